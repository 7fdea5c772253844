import { randomBytes } from 'node:crypto';
import type { RedisClient } from '../infra/redis.js';

export type ChallengePurpose = 'registration' | 'authentication';

/** What the server remembers about a ceremony it started; the browser only ever holds the handle. */
export interface PendingChallenge {
  challenge: string;
  purpose: ChallengePurpose;
  /** The account the ceremony was started for; null for a passwordless (discoverable) sign-in. */
  accountId: string | null;
}

/** Single-use WebAuthn challenges shared by every instance of the service. */
export interface WebAuthnChallengeStore {
  /** Remembers a challenge for the store's lifetime and returns the opaque handle that names it. */
  issue(pending: PendingChallenge): Promise<string>;
  /** Returns the challenge and forgets it in one step; undefined when unknown, expired or already used. */
  consume(handle: string): Promise<PendingChallenge | undefined>;
}

/** The one method of a TypeORM DataSource or EntityManager this store uses. */
export interface SqlRunner { query(sql: string, parameters?: unknown[]): Promise<unknown> }

export interface ChallengeStoreDeps {
  /** When given, challenges live in Redis (keys also get the client's own keyPrefix). */
  redis?: RedisClient;
  /** Otherwise in the `webauthn_challenges` table (migration 1795000000003). */
  sql?: SqlRunner;
  /** Five minutes by default, matching the `timeout` the ceremony options announce. */
  ttlSeconds?: number;
}

export const defaultChallengeTtlSeconds = 300;
const handlePattern = /^[\w-]{43}$/;

// TypeORM answers DELETE … RETURNING with [rows, affected] on PostgreSQL, and SELECT with rows.
const firstRow = (result: unknown): Record<string, unknown> | undefined => {
  const rows = Array.isArray(result) && Array.isArray(result[0]) ? result[0] : result;
  return (rows as Array<Record<string, unknown>>)[0];
};

/** Redis (SET EX / GETDEL) when configured, else PostgreSQL (DELETE … RETURNING): never process memory. */
export function createWebAuthnChallengeStore(deps: ChallengeStoreDeps): WebAuthnChallengeStore {
  const ttlSeconds = deps.ttlSeconds ?? defaultChallengeTtlSeconds;
  const { redis, sql } = deps;
  const newHandle = () => randomBytes(32).toString('base64url');

  if (redis) {
    const key = (handle: string) => `webauthn:challenge:${handle}`;
    return {
      async issue(pending) {
        const handle = newHandle();
        await redis.set(key(handle), JSON.stringify(pending), 'EX', ttlSeconds);
        return handle;
      },
      async consume(handle) {
        if (!handlePattern.test(handle)) return undefined;
        // GETDEL: two requests racing with one handle can't both read it.
        const value = await redis.getdel(key(handle));
        return value === null ? undefined : JSON.parse(value) as PendingChallenge;
      },
    };
  }
  if (!sql) throw new Error('the WebAuthn challenge store needs Redis or PostgreSQL');
  return {
    async issue(pending) {
      const handle = newHandle();
      // The sweep rides along with the insert so abandoned ceremonies never pile up; expiry
      // uses the database clock, the one every instance shares.
      await sql.query(
        `WITH swept AS (DELETE FROM webauthn_challenges WHERE expires_at < now())
         INSERT INTO webauthn_challenges (handle, challenge, purpose, account_id, expires_at)
         VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))`,
        [handle, pending.challenge, pending.purpose, pending.accountId, ttlSeconds]);
      return handle;
    },
    async consume(handle) {
      if (!handlePattern.test(handle)) return undefined;
      const row = firstRow(await sql.query(
        `DELETE FROM webauthn_challenges WHERE handle = $1
         RETURNING challenge, purpose, account_id, expires_at > now() AS live`, [handle]));
      if (!row?.live) return undefined;
      return { challenge: row.challenge as string, purpose: row.purpose as ChallengePurpose, accountId: (row.account_id as string | null) ?? null };
    },
  };
}
