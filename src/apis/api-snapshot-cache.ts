/**
 * One in-process copy of a small table, trusted for `ttlMs`. Concurrent readers share one load;
 * `invalidate` drops the copy at once, and a load that started before it is never kept, so a
 * read after a local write always sees that write.
 */
export function createApiSnapshotCache<T>({ load, ttlMs, clock }: { load: () => Promise<T>; ttlMs: number; clock: () => number }) {
  let value: { data: T; expiresAt: number } | undefined;
  let pending: Promise<T> | undefined;
  let generation = 0;

  function refresh(): Promise<T> {
    const started = generation;
    // Measured from the start of the read, so a copy is never older than ttlMs.
    const startedAt = clock();
    const loading = load().then((data) => {
      if (started === generation) value = { data, expiresAt: startedAt + ttlMs };
      return data;
    }).finally(() => {
      if (pending === loading) pending = undefined;
    });
    pending = loading;
    return loading;
  }

  return {
    get(): Promise<T> {
      if (value && clock() < value.expiresAt) return Promise.resolve(value.data);
      return pending ?? refresh();
    },
    invalidate(): void {
      generation += 1;
      value = undefined;
      pending = undefined;
    },
  };
}
