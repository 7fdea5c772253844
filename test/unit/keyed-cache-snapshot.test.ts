import { describe, expect, it } from 'vitest';
import { createKeyedCache } from '../../src/infra/keyed-cache.js';

/** A load whose answer the test hands over when it likes. */
function controlledLoads() {
  const pending: Array<(value: string) => void> = [];
  let calls = 0;
  return {
    load: () => { calls += 1; return new Promise<string>((resolve) => pending.push(resolve)); },
    answer: (index: number, value: string) => pending[index]!(value),
    get calls() { return calls; },
  };
}

/** The registry's use: one key for the whole table. */
function oneKey<T>(options: { load: () => Promise<T>; ttlMs: number; clock: () => number }) {
  const cache = createKeyedCache({ ...options, load: (_key: 'all') => options.load() });
  return { get: () => cache.get('all'), invalidate: () => cache.invalidate('all') };
}

describe('keyed cache as a one-key table snapshot (the API registry)', () => {
  it('shares one load between concurrent readers and keeps the copy for ttlMs from the start of the read', async () => {
    let now = 0;
    const loads = controlledLoads();
    const cache = oneKey({ load: loads.load, ttlMs: 5000, clock: () => now });
    const first = cache.get();
    const second = cache.get();
    now = 1000;
    loads.answer(0, 'v1');
    expect(await first).toBe('v1');
    expect(await second).toBe('v1');
    expect(loads.calls).toBe(1);
    now = 4999;
    expect(await cache.get()).toBe('v1');
    expect(loads.calls).toBe(1);
    now = 5000;
    const third = cache.get();
    loads.answer(1, 'v2');
    expect(await third).toBe('v2');
    expect(loads.calls).toBe(2);
  });

  it('never keeps a load that started before an invalidation', async () => {
    const loads = controlledLoads();
    const cache = oneKey({ load: loads.load, ttlMs: 5000, clock: () => 0 });
    const stale = cache.get();
    cache.invalidate();
    const fresh = cache.get();
    expect(loads.calls).toBe(2);
    loads.answer(1, 'after write');
    loads.answer(0, 'before write');
    expect(await stale).toBe('before write');
    expect(await fresh).toBe('after write');
    expect(await cache.get()).toBe('after write');
    expect(loads.calls).toBe(2);
  });

  it('tries again after a failed load', async () => {
    let fail = true;
    const cache = oneKey({ load: async () => { if (fail) throw new Error('down'); return 'up'; }, ttlMs: 5000, clock: () => 0 });
    await expect(cache.get()).rejects.toThrow('down');
    fail = false;
    expect(await cache.get()).toBe('up');
  });
});
