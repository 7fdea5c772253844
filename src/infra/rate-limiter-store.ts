import { createHash } from 'node:crypto';
import { RateLimiterPostgres, RateLimiterRedis, RateLimiterRes, type RateLimiterStoreAbstract } from 'rate-limiter-flexible';
import { ServiceUnavailableError } from '../errors/app-error.js';
import { throttleSubject } from '../identifiers/throttle-subject.js';
import type { DataSource } from './data-source.js';
import type { RedisClient } from './redis.js';

/** A limiter whose counters live in Redis or PostgreSQL, shared by every instance of the service. */
export type RateLimiter = RateLimiterStoreAbstract;

export interface LimiterOptions {
  /** Namespace of the counters: `<keyPrefix>:<name>:<key>`. Letters, digits and dashes. */
  name: string;
  points: number;
  durationSeconds: number;
  /** Once `points` are exceeded, refuse for this long instead of until the window ends. */
  blockSeconds?: number;
}

export type LimiterFactory = (options: LimiterOptions) => RateLimiter;

export interface LimiterStoreDeps {
  /** When given, counters live in Redis (keys also get the client's own keyPrefix). */
  redis?: RedisClient;
  /** Otherwise in the `rate_limits` table, created by migration 1795000000001. */
  dataSource: DataSource;
  keyPrefix?: string;
}

/**
 * Builds limiters over Redis when configured, else PostgreSQL — never rate-limiter-flexible's
 * per-process memory store, which two instances behind a load balancer would each count apart.
 */
export function createLimiterFactory(deps: LimiterStoreDeps): LimiterFactory {
  const keyPrefix = deps.keyPrefix ?? 'rl';
  let sweeperStarted = false;
  return ({ name, points, durationSeconds, blockSeconds }) => {
    if (!/^[A-Za-z0-9-]+$/.test(name)) throw new Error(`limiter name "${name}" must be letters, digits and dashes`);
    const common = { keyPrefix: `${keyPrefix}:${name}`, points, duration: durationSeconds, blockDuration: blockSeconds ?? 0 };
    // No insuranceLimiter (it would be the memory store) and no inMemoryBlockOnConsumed (per process).
    // No rejectIfRedisNotReady either: right after start-up the client is still "connecting" and
    // ioredis' offline queue (bounded by maxRetriesPerRequest) is what should absorb that.
    if (deps.redis) return new RateLimiterRedis({ ...common, storeClient: deps.redis });
    // tableCreated: the migration owns the DDL, so the constructor runs no CREATE TABLE and there is
    // no "ready" callback to await before first use (without it, _upsert rejects "Table is not
    // created yet" until an async CREATE finishes). storeType 'typeorm' reads driver.master (the pg
    // Pool) on every query. One limiter per factory sweeps expired rows every 5 minutes (unref'd timer).
    const clearExpiredByTimeout = !sweeperStarted;
    sweeperStarted = true;
    return new RateLimiterPostgres({
      ...common, storeClient: deps.dataSource, storeType: 'typeorm', tableName: 'rate_limits', tableCreated: true, clearExpiredByTimeout,
    });
  };
}

/** True when `error` is rate-limiter-flexible's "limit reached" answer rather than a store failure. */
export function isRateLimited(error: unknown): error is RateLimiterRes {
  return error instanceof RateLimiterRes;
}

/**
 * `.catch(failClosed)` after every store call. A limit answer is rethrown as is; a store failure
 * becomes a 503, logged by the error handler. We fail closed rather than fall back to an
 * insuranceLimiter because the only insurance available is per-process memory: during an outage
 * each instance would count alone (N instances = N× the limit) and every lock would be forgotten,
 * exactly when someone may have caused the outage. The same Redis/Postgres also holds the login
 * interaction itself, so refusing sign-ins while it is down costs no extra availability.
 */
export function failClosed(error: unknown): never {
  if (isRateLimited(error)) throw error;
  throw new ServiceUnavailableError('rate_limit_store_unavailable', 'the rate-limit store failed', { cause: error });
}

/**
 * The store key for an email, IP or account id: its one canonical spelling (`throttleSubject`, which
 * refuses an ambiguous email with a 400), so every respelling of an address shares one counter, then
 * hashed so the counters hold no personal data and always fit varchar(255).
 */
export function subjectKey(value: string): string {
  return createHash('sha256').update(throttleSubject(value)).digest('base64url');
}
