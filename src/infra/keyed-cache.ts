/**
 * An in-process read-through cache of `load(key)`, each answer trusted for `ttlMs` from the start
 * of its load. Failed loads are not kept; `invalidate` drops a key at once, so a read after a
 * local write loads again. The oldest entries go first beyond `maxEntries`.
 */
export function createKeyedCache<K, V>({ load, ttlMs, maxEntries = 10_000, clock = Date.now }: {
  load: (key: K) => Promise<V>; ttlMs: number; maxEntries?: number; clock?: () => number;
}) {
  const entries = new Map<K, { value: Promise<V>; expiresAt: number }>();

  return {
    get(key: K): Promise<V> {
      const hit = entries.get(key);
      if (hit && clock() < hit.expiresAt) return hit.value;
      const entry = { value: load(key), expiresAt: clock() + ttlMs };
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
