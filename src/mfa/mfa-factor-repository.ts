import type { EntityManager } from 'typeorm';
import { MfaFactorEntity, type MfaFactor } from './mfa-factor.entity.js';

const firstRow = (result: unknown): Record<string, unknown> | undefined => {
  const rows = Array.isArray(result) && Array.isArray(result[0]) ? result[0] : result;
  return (rows as Array<Record<string, unknown>>)[0];
};

/** An account's second factors, and the atomic updates that make each code single-use. */
export function createMfaFactorRepository(manager: EntityManager) {
  const repo = manager.getRepository(MfaFactorEntity);
  return {
    listConfirmed: (accountId: string) => repo.find({ where: { accountId }, order: { createdAt: 'ASC' } })
      .then((factors) => factors.filter((factor) => factor.confirmedAt !== null)),
    findById: (accountId: string, id: string) => repo.findOneBy({ accountId, id }),
    findByCredentialId: (credentialId: string) => repo.findOneBy({ credentialId }),
    insert: (factor: Partial<MfaFactor> & Pick<MfaFactor, 'accountId' | 'type' | 'name'>) => repo.save(repo.create(factor)),
    async update(id: string, changes: Partial<Omit<MfaFactor, 'id' | 'accountId'>>): Promise<void> {
      await repo.update({ id }, changes);
    },
    async delete(accountId: string, id: string): Promise<boolean> {
      return ((await repo.delete({ accountId, id })).affected ?? 0) > 0;
    },
    async deleteAll(accountId: string): Promise<number> {
      return (await repo.delete({ accountId })).affected ?? 0;
    },
    /** Drops TOTP enrolments started but never confirmed, older than `before` (code-based ones keep their send history). */
    async deleteUnconfirmed(accountId: string, before: Date): Promise<void> {
      await manager.query(`DELETE FROM mfa_factors WHERE account_id = $1 AND type = 'totp' AND confirmed_at IS NULL AND created_at < $2`, [accountId, before]);
    },
    /** Accepts a TOTP step only if it is later than the last one accepted: two racing requests can't both win. */
    async acceptTotpStep(id: string, step: number, now: Date): Promise<boolean> {
      const row = firstRow(await manager.query(
        `UPDATE mfa_factors SET last_used_step = $2, last_used_at = $3
          WHERE id = $1 AND (last_used_step IS NULL OR last_used_step < $2) RETURNING id`, [id, step, now]));
      return row !== undefined;
    },
    /** Stores a WebAuthn signature counter only if it went up (or the authenticator doesn't count). */
    async acceptSignCount(id: string, counter: number, now: Date): Promise<boolean> {
      const row = firstRow(await manager.query(
        `UPDATE mfa_factors SET sign_count = $2, last_used_at = $3
          WHERE id = $1 AND (($2 = 0 AND coalesce(sign_count, 0) = 0) OR sign_count IS NULL OR sign_count < $2) RETURNING id`, [id, counter, now]));
      return row !== undefined;
    },
  };
}

export type MfaFactorRepository = ReturnType<typeof createMfaFactorRepository>;
