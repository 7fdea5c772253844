/**
 * One classification of "a dependency is unreachable or too slow", for every store we use:
 * the edge turns such an error into 503 + Retry-After, the health tracker counts it.
 */
export type Dependency = 'postgres' | 'redis';

/** Socket-level failures (Node's system error codes). */
const networkCodes = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND',
  'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ECONNABORTED',
]);

/**
 * PostgreSQL SQLSTATEs meaning "not now", not "your query is wrong": class 08 (connection exception),
 * 57P (operator intervention: admin/crash shutdown, cannot connect now), 57014 (statement_timeout),
 * 25P03 (idle_in_transaction_session_timeout) and 53300 (too many connections).
 * @see https://www.postgresql.org/docs/15/errcodes-appendix.html
 */
function isUnavailableSqlState(code: string): boolean {
  return /^08/.test(code) || /^57P/.test(code) || code === '57014' || code === '25P03' || code === '53300';
}

/** Messages of pg, pg-pool and ioredis errors that carry no code. */
const postgresMessages = [
  /timeout exceeded when trying to connect/i, // pg-pool: connectionTimeoutMillis while waiting for a client
  /Connection terminated/i, // pg: the server went away mid-query, or the connect timed out
  /Query read timeout/i, // pg: query_timeout
  /Client has encountered a connection error and is not queryable/i,
  /Cannot use a pool after calling end/i,
];
const redisMessages = [
  /Connection is closed/i,
  /Reached the max retries per request limit/i, // MaxRetriesPerRequestError
  /Command timed out/i, // commandTimeout
  /Stream isn't writeable/i,
  /connect ETIMEDOUT/i,
  /All sentinels are unreachable/i,
  /Failed to refresh slots cache/i,
  /CLUSTERDOWN/i,
  /LOADING/i,
];

interface ErrorLike {
  code?: unknown; message?: unknown; name?: unknown; cause?: unknown; driverError?: unknown; errors?: unknown;
}

/** The errors to look at: the error, its `cause`, TypeORM's `driverError` and an AggregateError's `errors`. */
function* chain(error: unknown, depth = 0): Generator<ErrorLike> {
  if (!error || typeof error !== 'object' || depth > 8) return;
  const current = error as ErrorLike;
  yield current;
  yield* chain(current.cause, depth + 1);
  yield* chain(current.driverError, depth + 1);
  if (Array.isArray(current.errors)) for (const inner of current.errors) yield* chain(inner, depth + 1);
}

/** Which dependency failed, or undefined when `error` is not a dependency failure (a bug, bad input). */
export function dependencyOf(error: unknown): Dependency | 'unknown' | undefined {
  for (const link of chain(error)) {
    const code = typeof link.code === 'string' ? link.code : '';
    const message = typeof link.message === 'string' ? link.message : '';
    const name = typeof link.name === 'string' ? link.name : '';
    if (name === 'MaxRetriesPerRequestError' || redisMessages.some((pattern) => pattern.test(message))) return 'redis';
    if (/^[0-9A-Z]{5}$/.test(code) && isUnavailableSqlState(code)) return 'postgres';
    if (postgresMessages.some((pattern) => pattern.test(message))) return 'postgres';
    if (name === 'ConnectionIsNotSetError' || message === 'Driver not Connected') return 'postgres';
    if (networkCodes.has(code)) return 'unknown';
  }
  return undefined;
}

/** True when `error` (or anything in its cause chain) says a dependency is unreachable or timed out. */
export function isDependencyFailure(error: unknown): boolean {
  return dependencyOf(error) !== undefined;
}
