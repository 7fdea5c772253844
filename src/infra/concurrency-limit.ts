/** Runs at most `max` tasks at a time; the rest wait in arrival order. */
export function createConcurrencyLimit(max: number) {
  if (!Number.isInteger(max) || max < 1) throw new Error('max must be a whole number of at least 1');
  let running = 0;
  const waiting: Array<() => void> = [];

  return async function limited<T>(task: () => Promise<T>): Promise<T> {
    if (running >= max) await new Promise<void>((resolve) => waiting.push(resolve));
    else running += 1;
    try {
      return await task();
    } finally {
      // Hand the slot straight to the next waiter, so a newcomer can't overtake the queue.
      const next = waiting.shift();
      if (next) next();
      else running -= 1;
    }
  };
}

/**
 * How many argon2 computations may run at once: libuv's threadpool (UV_THREADPOOL_SIZE, default
 * 4) minus two threads kept free, so a burst of sign-ins can't queue JWT signing (WebCrypto),
 * DNS and file reads behind slow hashes.
 */
export function hashConcurrency(threadpoolSize = 4): number {
  return Math.max(1, threadpoolSize - 2);
}
