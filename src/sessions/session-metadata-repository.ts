import { In, LessThanOrEqual, type EntityManager } from 'typeorm';
import { SessionMetadataEntity, type SessionMetadata } from './session-metadata.entity.js';

const rowsOf = (result: unknown) => (Array.isArray(result) && Array.isArray(result[0]) ? result[0] : result) as Array<Record<string, unknown>>;

/** Session metadata rows; the Session itself stays in oidc_model_instances. */
export function createSessionMetadataRepository(manager: EntityManager) {
  const repo = manager.getRepository(SessionMetadataEntity);
  return {
    find: (sessionUid: string) => repo.findOneBy({ sessionUid }),
    listForAccount: (accountId: string) => repo.find({ where: { accountId }, order: { createdAt: 'DESC' } }),

    /**
     * Inserts the row, or refreshes it after a sign-in in the same session; answers whether it
     * was new (the session was just created). xmax = 0 only for a freshly inserted row.
     */
    async upsert(row: SessionMetadata): Promise<boolean> {
      const rows = rowsOf(await manager.query(
        `INSERT INTO session_metadata (session_uid, account_id, session_id, user_agent, ip, created_at, last_active_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (session_uid) DO UPDATE SET
           account_id = EXCLUDED.account_id, session_id = EXCLUDED.session_id, user_agent = EXCLUDED.user_agent,
           ip = EXCLUDED.ip, last_active_at = EXCLUDED.last_active_at, expires_at = EXCLUDED.expires_at
         RETURNING (xmax = 0) AS inserted`,
        [row.sessionUid, row.accountId, row.sessionId, row.userAgent, row.ip, row.createdAt, row.lastActiveAt, row.expiresAt]));
      return rows[0]?.inserted === true;
    },

    /** Moves last_active_at to `now` unless it moved within `throttleSeconds` (one write a minute, not one a request). */
    async touch(sessionUid: string, now: Date, throttleSeconds: number): Promise<void> {
      await manager.query(
        `UPDATE session_metadata SET last_active_at = $2
          WHERE session_uid = $1 AND last_active_at < $2::timestamptz - make_interval(secs => $3)`, [sessionUid, now, throttleSeconds]);
    },

    async delete(sessionUids: string[]): Promise<void> {
      if (sessionUids.length) await repo.delete({ sessionUid: In(sessionUids) });
    },
    async deleteForAccount(accountId: string): Promise<number> {
      return (await repo.delete({ accountId })).affected ?? 0;
    },
    async deleteExpired(now: Date): Promise<number> {
      return (await repo.delete({ expiresAt: LessThanOrEqual(now) })).affected ?? 0;
    },
  };
}

export type SessionMetadataRepository = ReturnType<typeof createSessionMetadataRepository>;
