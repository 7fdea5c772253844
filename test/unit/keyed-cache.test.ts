import { describe, expect, it } from 'vitest';
import { createKeyedCache } from '../../src/infra/keyed-cache.js';

function counting(now: { ms: number }, options: { maxEntries?: number; fail?: boolean } = {}) {
  const loads: string[] = [];
  const cache = createKeyedCache<string, string>({
    ttlMs: 1000, maxEntries: options.maxEntries, clock: () => now.ms,
    load: async (key) => {
      loads.push(key);
      if (options.fail) throw new Error(`no ${key}`);
      return `${key}@${now.ms}`;
    },
  });
  return { cache, loads };
}

describe('keyed cache', () => {
  it('answers from memory within the TTL and loads again after it', async () => {
    const now = { ms: 0 };
    const { cache, loads } = counting(now);
    expect(await cache.get('a')).toBe('a@0');
    now.ms = 999;
    expect(await cache.get('a')).toBe('a@0');
    now.ms = 1000;
    expect(await cache.get('a')).toBe('a@1000');
    expect(loads).toEqual(['a', 'a']);
  });

  it('shares one load between concurrent readers, and loads again after invalidate', async () => {
    const now = { ms: 0 };
    const { cache, loads } = counting(now);
    await Promise.all([cache.get('a'), cache.get('a')]);
    cache.invalidate('a');
    now.ms = 5;
    expect(await cache.get('a')).toBe('a@5');
    expect(loads).toEqual(['a', 'a']);
  });

  it('does not keep failures', async () => {
    const now = { ms: 0 };
    const { cache, loads } = counting(now, { fail: true });
    await expect(cache.get('a')).rejects.toThrow('no a');
    await expect(cache.get('a')).rejects.toThrow('no a');
    expect(loads).toEqual(['a', 'a']);
  });

  it('drops the oldest entry beyond maxEntries', async () => {
    const now = { ms: 0 };
    const { cache, loads } = counting(now, { maxEntries: 2 });
    for (const key of ['a', 'b', 'c', 'b', 'a']) await cache.get(key);
    expect(loads).toEqual(['a', 'b', 'c', 'a']);
  });

  it('answers the last value when a reload fails with an accepted (outage) error, within maxAgeMs only', async () => {
    const now = { ms: 0 };
    let failure: Error | undefined;
    const cache = createKeyedCache<string, string>({
      ttlMs: 1000, clock: () => now.ms,
      staleIfError: { accepts: (error) => (error as Error).message === 'store down', maxAgeMs: 5000 },
      load: async (key) => { if (failure) throw failure; return `${key}@${now.ms}`; },
    });
    expect(await cache.get('a')).toBe('a@0');
    failure = new Error('store down');
    now.ms = 1500;
    expect(await cache.get('a')).toBe('a@0');
    now.ms = 2600;
    expect(await cache.get('a')).toBe('a@0');
    // Past maxAgeMs from the original load, the failure shows.
    now.ms = 5001;
    await expect(cache.get('a')).rejects.toThrow('store down');
    // An error that is not an outage (a bug) is never hidden behind a stale value.
    failure = undefined;
    expect(await cache.get('a')).toBe('a@5001');
    failure = new Error('bug');
    now.ms = 6100;
    await expect(cache.get('a')).rejects.toThrow('bug');
  });
});
