/**
 * "A message was enqueued and is committed": wakes this process's outbox workers at once, so
 * delivery doesn't wait for the next poll. Other instances find the row at their next poll.
 */
const listeners = new Set<() => void>();

/** Subscribes to enqueue signals; returns the unsubscribe function. */
export function onOutboxEnqueued(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** Tells every subscribed worker that committed messages are waiting. */
export function signalOutboxEnqueued(): void {
  for (const listener of listeners) listener();
}
