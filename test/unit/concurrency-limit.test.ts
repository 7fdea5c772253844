import { describe, expect, it } from 'vitest';
import { createConcurrencyLimit, hashConcurrency } from '../../src/infra/concurrency-limit.js';

/** A task that finishes when the test says so. */
function deferred() {
  let finish!: () => void;
  const done = new Promise<void>((resolve) => { finish = resolve; });
  return { done, finish };
}

describe('concurrency limit', () => {
  it('runs at most max tasks at once, the rest in arrival order', async () => {
    const limited = createConcurrencyLimit(2);
    const tasks = [deferred(), deferred(), deferred(), deferred()];
    const started: number[] = [];
    const results = tasks.map((task, index) => limited(async () => {
      started.push(index);
      await task.done;
      return index;
    }));
    await Promise.resolve();
    expect(started).toEqual([0, 1]);
    tasks[1]!.finish();
    await results[1];
    await Promise.resolve();
    expect(started).toEqual([0, 1, 2]);
    tasks[0]!.finish();
    tasks[2]!.finish();
    tasks[3]!.finish();
    expect(await Promise.all(results)).toEqual([0, 1, 2, 3]);
    expect(started).toEqual([0, 1, 2, 3]);
  });

  it('frees the slot when a task fails', async () => {
    const limited = createConcurrencyLimit(1);
    await expect(limited(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await limited(async () => 'next')).toBe('next');
  });

  it('keeps two threadpool threads free for signing and I/O, and allows at least one hash', () => {
    expect(hashConcurrency(4)).toBe(2);
    expect(hashConcurrency(8)).toBe(6);
    expect(hashConcurrency(2)).toBe(1);
    expect(() => createConcurrencyLimit(0)).toThrow();
  });
});
