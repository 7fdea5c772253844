import type { EntityManager } from 'typeorm';
import { AccountTokenEntity, type AccountToken, type TokenPurpose } from './account-token.entity.js';

/** Single-use tokens by hash; consuming is one conditional UPDATE so a link works exactly once. */
export function createAccountTokenRepository(manager: EntityManager) {
  const repo = manager.getRepository(AccountTokenEntity);
  return {
    insert: (token: Omit<AccountToken, 'id' | 'createdAt' | 'usedAt'>) => repo.save(repo.create({ ...token, usedAt: null })),

    /** The unused, unexpired token with this hash and purpose. */
    findLive: (tokenHash: string, purpose: TokenPurpose, now: Date) =>
      repo.createQueryBuilder('t')
        .where('t.token_hash = :tokenHash AND t.purpose = :purpose AND t.used_at IS NULL AND t.expires_at > :now', { tokenHash, purpose, now })
        .getOne(),

    /** Marks the token used if it still is live; undefined when it was used, expired or never existed. */
    async consume(tokenHash: string, purpose: TokenPurpose, now: Date): Promise<AccountToken | undefined> {
      const rows: Array<Record<string, unknown>> = await manager.query(
        `UPDATE account_tokens SET used_at = $3
          WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3
          RETURNING id, account_id, purpose, email, expires_at`, [tokenHash, purpose, now]);
      const row = (Array.isArray(rows[0]) ? rows[0][0] : rows[0]) as Record<string, unknown> | undefined;
      if (!row) return undefined;
      return { id: String(row.id), accountId: String(row.account_id), purpose, tokenHash, email: String(row.email), expiresAt: row.expires_at as Date, usedAt: now, createdAt: now };
    },

    /** Voids every live token of a purpose for an account: a newer link replaces older ones. */
    async revokeAll(accountId: string, purpose: TokenPurpose, now: Date): Promise<void> {
      await manager.query(`UPDATE account_tokens SET used_at = $3 WHERE account_id = $1 AND purpose = $2 AND used_at IS NULL`, [accountId, purpose, now]);
    },

    /** How many links of a purpose were sent since a time (resend limits). */
    countSince: (accountId: string, purpose: TokenPurpose, since: Date) =>
      repo.createQueryBuilder('t').where('t.account_id = :accountId AND t.purpose = :purpose AND t.created_at > :since', { accountId, purpose, since }).getCount(),

    async deleteExpired(before: Date): Promise<number> {
      const result = await repo.createQueryBuilder().delete().where('expires_at < :before', { before }).execute();
      return result.affected ?? 0;
    },
  };
}

export type AccountTokenRepository = ReturnType<typeof createAccountTokenRepository>;
