import type { EntityManager } from 'typeorm';

/** One emailed or texted code: only its keyed hash is stored. */
export interface OtpChallenge {
  id: string;
  accountId: string;
  factorId: string;
  codeHash: string;
  attempts: number;
  expiresAt: Date;
  consumedAt: Date | null;
  createdAt: Date;
}

/** What a guess did: `unavailable` when there was no live code to guess (used, expired, out of attempts). */
export type AttemptResult = 'matched' | 'mismatched' | 'unavailable';

interface ChallengeRow {
  id: string; account_id: string; factor_id: string; code_hash: string; attempts: number;
  expires_at: Date; consumed_at: Date | null; created_at: Date;
}

const rowsOf = <T>(result: unknown) => (Array.isArray(result) && Array.isArray(result[0]) ? result[0] : result) as T[];

const fromRow = (row: ChallengeRow): OtpChallenge => ({
  id: row.id, accountId: row.account_id, factorId: row.factor_id, codeHash: row.code_hash, attempts: row.attempts,
  expiresAt: row.expires_at, consumedAt: row.consumed_at, createdAt: row.created_at,
});

/** Email and SMS codes in `otp_challenges`; every guess is one conditional UPDATE. */
export function createOtpChallengeRepository(manager: EntityManager) {
  /** The factor's newest code, whatever its state: sending a new code supersedes the older ones. */
  async function latest(factorId: string): Promise<OtpChallenge | undefined> {
    const [row] = rowsOf<ChallengeRow>(await manager.query(
      `SELECT * FROM otp_challenges WHERE factor_id = $1 ORDER BY created_at DESC, id DESC LIMIT 1`, [factorId]));
    return row && fromRow(row);
  }

  return {
    async create(challenge: Pick<OtpChallenge, 'id' | 'accountId' | 'factorId' | 'codeHash' | 'expiresAt' | 'createdAt'>): Promise<OtpChallenge> {
      const [row] = rowsOf<ChallengeRow>(await manager.query(
        `INSERT INTO otp_challenges (id, account_id, factor_id, code_hash, expires_at, created_at)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING *`,
        [challenge.id, challenge.accountId, challenge.factorId, challenge.codeHash, challenge.expiresAt, challenge.createdAt]));
      return fromRow(row!);
    },

    latest,

    /** The factor's newest code if it can still be guessed. */
    async latestLive(factorId: string, now: Date, maxAttempts: number): Promise<OtpChallenge | undefined> {
      const newest = await latest(factorId);
      return newest && !newest.consumedAt && newest.attempts < maxAttempts && newest.expiresAt > now ? newest : undefined;
    },

    /**
     * One guess, counted and checked in ONE statement. Concurrent guesses queue on the row lock
     * and PostgreSQL re-checks `attempts < max` against the committed row (READ COMMITTED
     * re-evaluation), so N parallel guesses never exceed the limit and a code matches once.
     * Comparing HMACs in SQL leaks no useful timing: an attacker can't steer the hash.
     */
    async attempt(id: string, codeHash: string, now: Date, maxAttempts: number): Promise<AttemptResult> {
      const [row] = rowsOf<{ matched: boolean }>(await manager.query(
        `UPDATE otp_challenges
            SET attempts = attempts + 1,
                consumed_at = CASE WHEN code_hash = $2 THEN $3::timestamptz END
          WHERE id = $1 AND consumed_at IS NULL AND attempts < $4 AND expires_at > $3
        RETURNING consumed_at IS NOT NULL AS matched`, [id, codeHash, now, maxAttempts]));
      return row === undefined ? 'unavailable' : row.matched ? 'matched' : 'mismatched';
    },

    /** Codes sent to an account since `since`, and when the oldest of them went out (hourly cap). */
    async sentSince(accountId: string, since: Date): Promise<{ count: number; oldest: Date | null }> {
      const [row] = rowsOf<{ count: number; oldest: Date | null }>(await manager.query(
        `SELECT count(*)::int AS count, min(created_at) AS oldest FROM otp_challenges WHERE account_id = $1 AND created_at > $2`,
        [accountId, since]));
      return { count: row?.count ?? 0, oldest: row?.oldest ?? null };
    },

    /**
     * Serialises code sending per account until the transaction ends, so two parallel requests
     * can't both pass the throttle check. The two-key form keeps clear of the audit lock's bigint key.
     */
    async lockAccount(accountId: string): Promise<void> {
      await manager.query(`SELECT pg_advisory_xact_lock(hashtext('portcullis.otp-send'), hashtext($1))`, [accountId]);
    },
  };
}

export type OtpChallengeRepository = ReturnType<typeof createOtpChallengeRepository>;
