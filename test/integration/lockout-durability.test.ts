/**
 * The progressive-lockout primitive under both lockouts, below the HTTP layer: second-factor
 * levels grow like password ones; a private redis-server is flushed to show that a lock, its
 * level and a permanent lock come back from lockout_records; and the hot path stays cheap
 * (one primary-key lookup for a subject Redis knows nothing of, none for a success).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createLockoutRecordRepository } from '../../src/accounts/lockout-record-repository.js';
import { createLoginThrottleFor } from '../../src/accounts/login-throttle.js';
import type { LockoutPolicy } from '../../src/accounts/progressive-lockout.js';
import { openDataSource, type DataSource } from '../../src/infra/data-source.js';
import { createLimiterFactory } from '../../src/infra/rate-limiter-store.js';
import { createRedis, type RedisClient } from '../../src/infra/redis.js';
import { createSecondFactorThrottle, type SecondFactorThrottle } from '../../src/mfa/second-factor-throttle.js';
import { startPrivateRedis, type PrivateRedis } from '../helpers/private-redis.js';
import { createTestDatabase } from '../helpers/test-database.js';

let dataSource: DataSource;
let privateRedis: PrivateRedis;
let redis: RedisClient;

beforeAll(async () => {
  dataSource = await openDataSource({
    url: (await createTestDatabase()).url,
    poolSize: 4,
    entities: [],
    migrations: [],
  });
  privateRedis = await startPrivateRedis();
  redis = createRedis(privateRedis.url, { keyPrefix: 'durability:' });
});
afterAll(async () => {
  await redis?.quit();
  await privateRedis?.stop();
  await dataSource?.destroy();
});
afterEach(() => { vi.useRealTimers(); });

const policy = (overrides: Partial<LockoutPolicy> = {}): LockoutPolicy => ({
  threshold: 3,
  baseSeconds: 900,
  multiplier: 2,
  maxSeconds: 3600,
  maxConsecutiveFailures: 100,
  ...overrides,
});

/** `times` wrong codes as the guard records them; returns the last failure. */
async function fail(throttle: SecondFactorThrottle, accountId: string, times: number) {
  let last;
  for (let i = 0; i < times; i++) {
    const gate = await throttle.check(accountId);
    if (gate.locked) throw new Error(`locked at attempt ${i + 1}`);
    last = await throttle.recordFailure(accountId);
  }
  return last!;
}

/** Polls (bounded) until the store reports the step open again: Redis expires keys on its own clock. */
async function untilOpen(throttle: SecondFactorThrottle, accountId: string) {
  const deadline = Date.now() + 15_000;
  while ((await throttle.peek(accountId)).locked) {
    if (Date.now() > deadline) throw new Error('still locked after 15 s');
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe('second-factor lockout levels (PostgreSQL store, clock moved)', () => {
  it('locks for 900 s, then 1800, 3600, and stays at maxSeconds; unlock starts again at 900', async () => {
    vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true });
    const throttle = createSecondFactorThrottle({ factory: createLimiterFactory({ dataSource }), policy: policy() });
    const accountId = randomUUID();
    const seen = [];
    for (let round = 0; round < 4; round++) {
      const failure = await fail(throttle, accountId, 3);
      seen.push(failure.lockSeconds);
      expect(await throttle.check(accountId)).toMatchObject({ locked: true, permanent: false });
      vi.setSystemTime(Date.now() + (failure.lockSeconds! + 1) * 1000);
    }
    expect(seen).toEqual([900, 1800, 3600, 3600]);
    await fail(throttle, accountId, 2);
    await throttle.unlock(accountId);
    expect((await fail(throttle, accountId, 3)).lockSeconds).toBe(900);
  });
});

describe('a Redis flush (private redis-server)', () => {
  const records = createLockoutRecordRepository({
    query: (sql: string, parameters?: unknown[]) => dataSource.query(sql, parameters),
  });
  const redisThrottle = (overrides: Partial<LockoutPolicy> = {}) =>
    createSecondFactorThrottle({
      factory: createLimiterFactory({ redis, dataSource }),
      policy: policy(overrides),
      records,
    });

  it('keeps a second-factor lock and its level: after the lock ends and Redis is flushed again, the next lock is longer', async () => {
    const throttle = redisThrottle({ baseSeconds: 1, multiplier: 3 });
    const accountId = randomUUID();
    expect(await fail(throttle, accountId, 3)).toEqual({ lockedNow: true, lockSeconds: 1, permanent: false });
    await privateRedis.admin.flushall();
    expect(await throttle.check(accountId)).toMatchObject({ locked: true, permanent: false });
    await untilOpen(throttle, accountId);
    await privateRedis.admin.flushall();
    expect(await fail(throttle, accountId, 3)).toEqual({ lockedNow: true, lockSeconds: 3, permanent: false });
  });

  it('keeps a permanent lock until unlocked, and the unlock removes its record', async () => {
    const throttle = redisThrottle({ maxConsecutiveFailures: 3 });
    const accountId = randomUUID();
    expect(await fail(throttle, accountId, 3)).toEqual({ lockedNow: true, permanent: true });
    await privateRedis.admin.flushall();
    expect(await throttle.peek(accountId)).toEqual({ locked: true, retryAfterSeconds: 3600, permanent: true });
    await throttle.unlock(accountId);
    await privateRedis.admin.flushall();
    expect(await throttle.check(accountId)).toEqual({ locked: false });
  });

  it('keeps a password lock (the throttle the CLI and server build), and users unlock lifts it', async () => {
    const config = { lockout: policy({ threshold: 2 }), captcha: { loginFailuresBeforeCaptcha: 100 } } as Parameters<
      typeof createLoginThrottleFor
    >[0]['config'];
    const throttle = createLoginThrottleFor({ redis, dataSource, config });
    const email = `durable-${randomUUID()}@example.com`;
    for (let i = 0; i < 2; i++) {
      expect((await throttle.check(email, '192.0.2.1')).locked).toBe(false);
      await throttle.recordFailure(email, '192.0.2.1');
    }
    await privateRedis.admin.flushall();
    const locked = await throttle.check(email, '192.0.2.2');
    expect(locked).toMatchObject({ locked: true, permanent: false });
    expect(locked.locked && locked.retryAfterSeconds).toBeGreaterThan(890);
    // A second throttle (another process) lifts it for everyone.
    await createLoginThrottleFor({ redis, dataSource, config }).unlock(email);
    await privateRedis.admin.flushall();
    expect(await throttle.check(email, '192.0.2.3')).toEqual({ locked: false, captchaRequired: false });
  });

  it('costs one primary-key lookup for a subject Redis knows nothing of, and no SQL for the success after it', async () => {
    let queries = 0;
    const counted = createLockoutRecordRepository({
      query: (sql: string, parameters?: unknown[]) => {
        queries += 1;
        return dataSource.query(sql, parameters);
      },
    });
    const throttle = createSecondFactorThrottle({
      factory: createLimiterFactory({ redis, dataSource }),
      policy: policy(),
      records: counted,
    });
    const accountId = randomUUID();
    expect(await throttle.check(accountId)).toEqual({ locked: false });
    expect(queries).toBe(1);
    await throttle.recordSuccess(accountId);
    expect(queries).toBe(1);
  });
});
