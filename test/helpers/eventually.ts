/**
 * Polls `probe` until `done` accepts its value, at most `timeoutMs`; then fails with the last value.
 * For effects of the outbox worker, which run just after the request that caused them.
 */
export async function eventually<T>(
  probe: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (done(value)) return value;
    if (Date.now() > deadline) {
      throw new Error(`condition not met within ${timeoutMs} ms; last value: ${JSON.stringify(value)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
