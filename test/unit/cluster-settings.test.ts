import { describe, expect, it } from 'vitest';
import { restartDelayMs, threadpoolSize, workerCount } from '../../src/cluster.js';

describe('workerCount', () => {
  it('defaults to one per CPU in production and one elsewhere', () => {
    expect(workerCount({ nodeEnv: 'production', workers: undefined }, 8)).toBe(8);
    expect(workerCount({ nodeEnv: 'development', workers: undefined }, 8)).toBe(1);
    expect(workerCount({ nodeEnv: 'test', workers: undefined }, 8)).toBe(1);
  });

  it('takes an explicit count, or auto for one per CPU', () => {
    expect(workerCount({ nodeEnv: 'production', workers: 3 }, 8)).toBe(3);
    expect(workerCount({ nodeEnv: 'development', workers: 'auto' }, 8)).toBe(8);
  });
});

describe('threadpoolSize', () => {
  it('gives each worker its share of the CPUs plus two spare threads, never fewer than 4', () => {
    expect(threadpoolSize(1, 16)).toBe(18);
    expect(threadpoolSize(4, 16)).toBe(6);
    expect(threadpoolSize(16, 16)).toBe(4);
    expect(threadpoolSize(2, 2)).toBe(4);
  });
});

describe('restartDelayMs', () => {
  it('replaces the first crash in a minute at once, then backs off doubling up to 30 s', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 20].map(restartDelayMs)).toEqual([0, 1000, 2000, 4000, 8000, 16000, 30000, 30000]);
  });
});
