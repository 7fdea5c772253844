/**
 * An in-process read-through cache of `load(key)`, each answer trusted for `ttlMs` from the start
 * of its load. Failed loads are not kept; `invalidate` drops a key at once, so a read after a
 * local write loads again. The oldest entries go first beyond `maxEntries`.
 */
export function createKeyedCache<K, V>({ load, ttlMs, maxEntries = 10_000, clock = Date.now, staleIfError }: {
  load: (key: K) => Promise<V>; ttlMs: number; maxEntries?: number; clock?: () => number;
  /**
   * When a reload fails with an error this accepts (a store outage), answer the last value loaded
   * within `maxAgeMs` instead: nobody can change the row while its store is down. Off with ttlMs 0.
   */
  staleIfError?: { accepts: (error: unknown) => boolean; maxAgeMs: number };
}) {
  const entries = new Map<K, { value: Promise<V>; expiresAt: number; loadedAt: number }>();

  return {
    get(key: K): Promise<V> {
      const hit = entries.get(key);
      if (hit && clock() < hit.expiresAt) return hit.value;
      const entry = { value: load(key), expiresAt: clock() + ttlMs, loadedAt: clock() };
      if (hit && staleIfError && ttlMs > 0 && clock() < hit.loadedAt + staleIfError.maxAgeMs) {
        entry.value = entry.value.catch((error: unknown) => {
          if (!staleIfError.accepts(error)) throw error;
          entry.loadedAt = hit.loadedAt; // still the old value: its age keeps counting from its load
          return hit.value;
        });
      }
      entries.delete(key);
      entries.set(key, entry);
      if (entries.size > maxEntries) entries.delete(entries.keys().next().value as K);
      entry.value.catch(() => {
        if (entries.get(key) === entry) entries.delete(key);
      });
      return entry.value;
    },
    invalidate(key: K): void {
      entries.delete(key);
    },
  };
}
