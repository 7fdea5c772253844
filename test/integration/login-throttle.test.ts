import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createLoginThrottle, createLoginThrottleFor, lockSecondsFor, type LoginThrottle } from '../../src/accounts/login-throttle.js';
import { runCli } from '../../src/cli/index.js';
import type { Config } from '../../src/config/schema.js';
import { createContainer, type Container } from '../../src/container.js';
import { openDataSource, type DataSource } from '../../src/infra/data-source.js';
import { createLogger } from '../../src/infra/logger.js';
import { createLimiterFactory } from '../../src/infra/rate-limiter-store.js';
import { createRedis, type RedisClient } from '../../src/infra/redis.js';
import { createTestDatabase, testRedis } from '../helpers/test-database.js';
import { testEnvironment } from '../helpers/test-server.js';

type Lockout = Config['lockout'];
const defaults: Lockout = { threshold: 5, baseSeconds: 900, multiplier: 2, maxSeconds: 86400, maxConsecutiveFailures: 100 };

const redisConfig = testRedis();
let dataSource: DataSource;
let redis: RedisClient | undefined;

beforeAll(async () => {
  dataSource = await openDataSource({ url: (await createTestDatabase()).url, poolSize: 12, entities: [], migrations: [] });
  if (redisConfig) redis = createRedis(redisConfig.url, { keyPrefix: redisConfig.keyPrefix });
});

/** Removes what a test left under its own Redis key prefix. */
async function dropRedisKeys(url: string, prefix: string): Promise<void> {
  const raw = createRedis(url);
  let cursor = '0';
  do {
    const [next, keys] = await raw.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    if (keys.length) await raw.unlink(...keys);
    cursor = next;
  } while (cursor !== '0');
  await raw.quit();
}

afterAll(async () => {
  if (redisConfig && redis) await dropRedisKeys(redisConfig.url, redisConfig.keyPrefix);
  await redis?.quit();
  await dataSource?.destroy();
});

afterEach(() => { vi.useRealTimers(); });

const email = () => `user-${randomUUID()}@example.com`;
const ip = () => `203.0.113.${Math.floor(Math.random() * 250) + 1}-${randomUUID()}`;

/** One sign-in with a wrong password, as the login handler does it. */
async function wrongPassword(throttle: LoginThrottle, address: string, from: string) {
  const gate = await throttle.check(address, from);
  if (gate.locked) return { refused: true as const, gate };
  return { refused: false as const, failure: await throttle.recordFailure(address, from) };
}

async function failTimes(throttle: LoginThrottle, address: string, times: number, from = ip()) {
  const results = [];
  for (let i = 0; i < times; i++) results.push(await wrongPassword(throttle, address, from));
  return results;
}

/**
 * How a test gets past a lock without waiting for it. The Postgres store takes its clock from
 * Date.now() (it writes and compares `expire` itself), so faking Date moves its time exactly and
 * lets the real 15-minute defaults be tested. Redis expires keys on its own clock, which no test
 * can move: there the locks are 1–2 s long and the test polls until the store reports them gone.
 */
interface Store {
  name: string;
  redis?: () => RedisClient;
  /** Lockout settings short enough for this store's way of passing time. */
  lockout: Lockout;
  /** Lets `seconds` pass for the store; `isLocked` is what a poll may look at. */
  pass(seconds: number, isLocked: () => Promise<boolean>): Promise<void>;
  /** Whether time can be moved far ahead (to show a permanent lock ignores it). */
  canTravel: boolean;
}

function throttleContract(store: Store) {
  const make = (overrides: Partial<Lockout> = {}, captchaAfter = 3) => {
    const lockout = { ...store.lockout, ...overrides };
    const factory = createLimiterFactory({ redis: store.redis?.(), dataSource });
    // A twin that always wants a CAPTCHA: check(…, { captchaSolved: false }) then never reserves an attempt.
    const observer = createLoginThrottle({ factory, lockout, captchaAfter: 0 });
    return Object.assign(createLoginThrottle({ factory, lockout, captchaAfter }), {
      isLocked: async (address: string) => (await observer.check(address, 'observer', { captchaSolved: false })).locked,
    });
  };

  it('locks after `threshold` consecutive failures, for baseSeconds', async () => {
    const throttle = make();
    const address = email();
    const results = await failTimes(throttle, address, store.lockout.threshold);
    expect(results.slice(0, -1).map((r) => r.refused || r.failure.lockedNow)).toEqual([false, false, false, false]);
    expect(results.at(-1)).toEqual({ refused: false, failure: { lockedNow: true, lockSeconds: store.lockout.baseSeconds, permanent: false } });
    const gate = await throttle.check(address, ip());
    expect(gate).toMatchObject({ locked: true, permanent: false });
    if (!gate.locked) throw new Error('unreachable');
    expect(gate.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(gate.retryAfterSeconds).toBeLessThanOrEqual(store.lockout.baseSeconds);
  });

  it('makes the second lock baseSeconds × multiplier, since the level outlives the first lock', async () => {
    const throttle = make();
    const address = email();
    const first = (await failTimes(throttle, address, 5)).at(-1);
    expect(first).toMatchObject({ failure: { lockedNow: true, lockSeconds: store.lockout.baseSeconds } });
    await store.pass(store.lockout.baseSeconds, () => throttle.isLocked(address));
    expect(await throttle.check(address, ip())).toEqual({ locked: false, captchaRequired: true });
    await throttle.recordFailure(address, ip()); // that check reserved an attempt: it failed
    const second = (await failTimes(throttle, address, 4)).at(-1);
    expect(second).toMatchObject({ failure: { lockedNow: true, lockSeconds: store.lockout.baseSeconds * store.lockout.multiplier } });
  });

  it('treats an unknown email exactly like a known one, and emails case-insensitively', async () => {
    const throttle = make();
    const known = email();
    const unknown = `nobody-${randomUUID()}@example.com`;
    const strip = (r: Awaited<ReturnType<typeof wrongPassword>>) => r.refused ? { refused: true, locked: r.gate.locked } : r;
    const a = (await failTimes(throttle, known, 6)).map(strip);
    const b = (await failTimes(throttle, unknown.toUpperCase(), 6)).map(strip);
    expect(b).toEqual(a);
    expect(await throttle.check(unknown, ip())).toMatchObject({ locked: true });
  });

  it('counts consecutive failures only: a success starts again', async () => {
    const throttle = make();
    const address = email();
    await failTimes(throttle, address, 4);
    expect(await throttle.check(address, ip())).toMatchObject({ locked: false });
    await throttle.recordSuccess(address, ip());
    const again = await failTimes(throttle, address, 4);
    expect(again.every((r) => !r.refused && !r.failure.lockedNow)).toBe(true);
  });

  it('reports lockedNow exactly once per lock, then refuses without counting', async () => {
    const throttle = make();
    const address = email();
    const results = await failTimes(throttle, address, 15);
    expect(results.filter((r) => !r.refused && r.failure.lockedNow)).toHaveLength(1);
    expect(results.filter((r) => !r.refused)).toHaveLength(5);
    expect(results.slice(5).every((r) => r.refused && r.gate.locked)).toBe(true);
  });

  it('lets exactly `threshold` of 20 parallel wrong passwords through; the rest are refused as locked', async () => {
    // Two throttles over two factories: the counters are the store's, not a process's.
    const [one, two] = [make(), make()];
    const address = email();
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => wrongPassword(i % 2 ? one : two, address, ip())));
    const verified = results.filter((r) => !r.refused);
    expect(verified).toHaveLength(store.lockout.threshold);
    expect(verified.filter((r) => r.failure.lockedNow)).toHaveLength(1);
    expect(results.filter((r) => r.refused && r.gate.locked)).toHaveLength(20 - store.lockout.threshold);
    expect(await one.check(address, ip())).toMatchObject({ locked: true, permanent: false });
  });

  it('locks for good after maxConsecutiveFailures, until unlocked', async () => {
    const throttle = make({ threshold: 2, maxConsecutiveFailures: 5, multiplier: 1 });
    const address = email();
    const locks = [];
    for (let round = 0; round < 3; round++) {
      const failures = (await failTimes(throttle, address, round < 2 ? 2 : 1)).map((r) => (r.refused ? undefined : r.failure));
      expect(failures.every(Boolean)).toBe(true); // every attempt was verified: none refused early
      locks.push(failures.at(-1));
      if (round < 2) await store.pass(store.lockout.baseSeconds, () => throttle.isLocked(address));
    }
    expect(locks).toEqual([
      { lockedNow: true, lockSeconds: store.lockout.baseSeconds, permanent: false },
      { lockedNow: true, lockSeconds: store.lockout.baseSeconds, permanent: false },
      { lockedNow: true, permanent: true },
    ]);
    if (store.canTravel) vi.setSystemTime(Date.now() + 30 * 86_400_000);
    expect(await throttle.check(address, ip())).toMatchObject({ locked: true, permanent: true });
    await throttle.unlock(address);
    expect(await throttle.check(address, ip())).toMatchObject({ locked: false });
    await throttle.recordFailure(address, ip());
    expect((await failTimes(throttle, address, 1)).at(-1)).toMatchObject({ failure: { lockedNow: true, lockSeconds: store.lockout.baseSeconds } });
  });

  it('unlock lifts the lock and forgets the failures and the level', async () => {
    const throttle = make();
    const address = email();
    await failTimes(throttle, address, 5);
    expect(await throttle.check(address, ip())).toMatchObject({ locked: true });
    await throttle.unlock(address);
    expect(await throttle.check(address, ip())).toEqual({ locked: false, captchaRequired: false });
    await throttle.recordFailure(address, ip());
    expect((await failTimes(throttle, address, 4)).at(-1)).toMatchObject({ failure: { lockedNow: true, lockSeconds: store.lockout.baseSeconds } });
  });

  it('asks for a CAPTCHA after captchaAfter failures, by email and by IP', async () => {
    const throttle = make({}, 3);
    const address = email();
    await failTimes(throttle, address, 2);
    expect(await throttle.check(address, ip())).toMatchObject({ locked: false, captchaRequired: false });
    await throttle.recordFailure(address, ip());
    expect(await throttle.check(address, ip())).toMatchObject({ locked: false, captchaRequired: true });
    await throttle.recordFailure(address, ip());

    const shared = ip();
    for (let i = 0; i < 3; i++) await failTimes(throttle, email(), 1, shared);
    expect(await throttle.check(email(), shared, { captchaSolved: false })).toEqual({ locked: false, captchaRequired: true });
    expect(await throttle.check(email(), ip(), { captchaSolved: false })).toMatchObject({ captchaRequired: false });
    // A success on some account doesn't clear what the IP has done.
    await throttle.recordSuccess(email(), shared);
    expect(await throttle.check(email(), shared, { captchaSolved: false })).toMatchObject({ captchaRequired: true });
  });

  it('reserves nothing when a required CAPTCHA is missing', async () => {
    const throttle = make({}, 1);
    const address = email();
    await failTimes(throttle, address, 1);
    for (let i = 0; i < 10; i++) {
      expect(await throttle.check(address, ip(), { captchaSolved: false })).toEqual({ locked: false, captchaRequired: true });
    }
    const rest = await failTimes(throttle, address, 4);
    expect(rest.map((r) => !r.refused && r.failure.lockedNow)).toEqual([false, false, false, true]);
  });
}

describe('login throttle on PostgreSQL', () => {
  throttleContract({
    name: 'postgres',
    lockout: defaults,
    canTravel: true,
    async pass(seconds) {
      if (!vi.isFakeTimers()) vi.useFakeTimers({ toFake: ['Date'], now: Date.now() });
      vi.setSystemTime(Date.now() + seconds * 1000 + 1000);
    },
  });

  it('escalates 900 → 1800 → … and stops at maxSeconds', async () => {
    const throttle = createLoginThrottle({ factory: createLimiterFactory({ dataSource }), lockout: { ...defaults, maxSeconds: 3000 }, captchaAfter: 3 });
    const address = email();
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() });
    const locks: unknown[] = [];
    for (let round = 0; round < 4; round++) {
      const last = (await failTimes(throttle, address, 5)).at(-1);
      if (!last || last.refused) throw new Error(`round ${round} was refused`);
      locks.push(last.failure.lockSeconds);
      vi.setSystemTime(Date.now() + (last.failure.lockSeconds ?? 0) * 1000 + 1000);
    }
    expect(locks).toEqual([900, 1800, 3000, 3000]);
    expect([1, 2, 3, 4, 30].map((level) => lockSecondsFor(level, defaults))).toEqual([900, 1800, 3600, 7200, 86400]);
  });
});

describe.skipIf(!redisConfig)(redisConfig ? 'login throttle on Redis' : 'login throttle on Redis (skipped: REDIS_URL not set)', () => {
    throttleContract({
      name: 'redis',
      redis: () => redis!,
      lockout: { ...defaults, baseSeconds: 1, maxSeconds: 60 },
      canTravel: false,
      async pass(seconds, isLocked) {
        // Redis' own TTL ends the lock: poll until the store says so, rather than sleeping a guess.
        await vi.waitFor(async () => expect(await isLocked()).toBe(false), { timeout: seconds * 1000 + 3000, interval: 100 });
      },
    });
});

describe('portcullis users unlock', () => {
  let env: Record<string, string>;
  let container: Container;
  let sql: pg.Client;

  beforeAll(async () => {
    const environment = await testEnvironment();
    env = environment.env;
    // What the server would build: Redis when REDIS_URL is set, so the CLI must reach the same counters.
    container = await createContainer(environment.config, createLogger('silent'), { migrate: false });
    sql = new pg.Client({ connectionString: environment.databaseUrl });
    await sql.connect();
  });

  afterAll(async () => {
    await sql?.end();
    await container?.close();
    if (env?.REDIS_URL) await dropRedisKeys(env.REDIS_URL, env.REDIS_KEY_PREFIX!);
  });

  async function unlock(address: string) {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(['users', 'unlock', address, '--json'], { env, write: (t) => out.push(t), writeError: (t) => err.push(t) });
    return { code, stdout: out.join('\n'), stderr: err.join('\n') };
  }

  const unlockEvents = async (accountId: string) => (await sql.query(
    `SELECT actor FROM audit_events WHERE type = 'account.unlocked' AND account_id = $1`, [accountId])).rows;

  it('lifts the lock of an existing account and records account.unlocked by cli', async () => {
    const throttle = createLoginThrottleFor(container);
    const address = email();
    const account = await container.accounts.create({ email: address, password: 'correct horse battery staple 42' }, 'test');
    await failTimes(throttle, address, 5);
    expect(await throttle.check(address, ip())).toMatchObject({ locked: true });

    const result = await unlock(address.toUpperCase());
    expect(result, result.stderr).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(result.stdout)).toEqual({ email: address.toUpperCase(), unlocked: true });
    expect(await throttle.check(address, ip())).toMatchObject({ locked: false });
    expect(await unlockEvents(account.id)).toEqual([{ actor: 'cli' }]);
  });

  it('unlocks an unknown email silently, like a known one', async () => {
    const throttle = createLoginThrottleFor(container);
    const address = email();
    await failTimes(throttle, address, 5);
    const before = (await sql.query(`SELECT count(*)::int AS n FROM audit_events WHERE type = 'account.unlocked'`)).rows[0].n;
    const result = await unlock(address);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(result.stdout)).toEqual({ email: address, unlocked: true });
    expect(await throttle.check(address, ip())).toMatchObject({ locked: false });
    expect((await sql.query(`SELECT count(*)::int AS n FROM audit_events WHERE type = 'account.unlocked'`)).rows[0].n).toBe(before);
  });

  it('refuses something that is not an email in one line', async () => {
    const result = await unlock('not-an-email');
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^portcullis: .*email/);
  });
});
