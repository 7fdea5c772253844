import type { EntityManager } from 'typeorm';

const rowsOf = (result: unknown) => (Array.isArray(result) && Array.isArray(result[0]) ? result[0] : result) as Array<Record<string, unknown>>;

/** Recovery codes as keyed hashes; using one is a conditional UPDATE, so each works once. */
export function createRecoveryCodeRepository(manager: EntityManager) {
  return {
    /** Replaces the account's codes: the old set stops working in the same transaction. */
    async replace(accountId: string, codeHashes: string[]): Promise<void> {
      await manager.query(`DELETE FROM recovery_codes WHERE account_id = $1`, [accountId]);
      if (codeHashes.length) {
        await manager.query(`INSERT INTO recovery_codes (account_id, code_hash) SELECT $1, unnest($2::text[])`, [accountId, codeHashes]);
      }
    },
    async use(accountId: string, codeHash: string, now: Date): Promise<boolean> {
      const rows = rowsOf(await manager.query(
        `UPDATE recovery_codes SET used_at = $3 WHERE account_id = $1 AND code_hash = $2 AND used_at IS NULL RETURNING id`, [accountId, codeHash, now]));
      return rows.length === 1;
    },
    async remaining(accountId: string): Promise<number> {
      const rows = rowsOf(await manager.query(`SELECT count(*)::int AS n FROM recovery_codes WHERE account_id = $1 AND used_at IS NULL`, [accountId]));
      return Number(rows[0]?.n ?? 0);
    },
    async deleteAll(accountId: string): Promise<void> {
      await manager.query(`DELETE FROM recovery_codes WHERE account_id = $1`, [accountId]);
    },
  };
}

export type RecoveryCodeRepository = ReturnType<typeof createRecoveryCodeRepository>;
