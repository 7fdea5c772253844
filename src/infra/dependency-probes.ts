import pg from 'pg';
import type { DependencyProbe } from './dependency-health.js';
import type { RedisClient } from './redis.js';

/** Rejects with a timeout error unless `work` settles within `ms`. */
export function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    const error = Object.assign(new Error(`${what} timed out after ${ms} ms`), { code: 'ETIMEDOUT' });
    timer = setTimeout(() => reject(error), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/**
 * PostgreSQL checked over its own one-connection pool, so a check never queues behind requests
 * waiting for the request pool (an exhausted pool is not an unreachable database).
 */
export function postgresProbe(url: string, timeoutMs: number): DependencyProbe & { close(): Promise<void> } {
  const pool = new pg.Pool({
    connectionString: url, max: 1, idleTimeoutMillis: 30_000, application_name: 'portcullis-readiness',
    connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs, statement_timeout: timeoutMs,
  });
  // An idle probe connection dropped by a restarting server must not become an unhandled 'error'.
  pool.on('error', () => {});
  return {
    name: 'postgres',
    check: async () => { await withTimeout(pool.query('SELECT 1'), timeoutMs, 'postgres check'); },
    close: () => pool.end(),
  };
}

/** Redis checked with PING on the shared client; while it is reconnecting the answer is "down" at once. */
export function redisProbe(redis: RedisClient, timeoutMs: number): DependencyProbe {
  return {
    name: 'redis',
    check: async () => {
      if (redis.status !== 'ready') throw new Error(`redis is ${redis.status}`);
      await withTimeout(redis.ping(), timeoutMs, 'redis check');
    },
  };
}
