import type { EntityManager } from 'typeorm';
import { ConflictError } from '../errors/app-error.js';
import { AccountEntity, type Account } from './account.entity.js';

export type NewAccount = Pick<Account, 'email' | 'emailVerified' | 'passwordHash' | 'name'> & { passwordChangedAt?: Date | null };

function isUniqueViolation(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: string }).code === '23505';
}

/** Accounts by id and by case-insensitive email. */
export function createAccountRepository(manager: EntityManager) {
  const repo = manager.getRepository(AccountEntity);
  return {
    findById: (id: string) => repo.findOneBy({ id }),
    findByEmail: (email: string) =>
      repo.createQueryBuilder('a').where('lower(a.email) = lower(:email)', { email }).getOne(),
    /**
     * The row, locked FOR UPDATE until the transaction ends: a concurrent change waits, then reads
     * what this one wrote (If-Match checks and the update they guard are one step). Needs a transaction.
     */
    findByIdForUpdate: (id: string) => repo.createQueryBuilder('a').setLock('pessimistic_write').where('a.id = :id', { id }).getOne(),
    findByEmailForUpdate: (email: string) =>
      repo.createQueryBuilder('a').setLock('pessimistic_write').where('lower(a.email) = lower(:email)', { email }).getOne(),
    /** Deletes the account; its tokens, factors, roles, sessions' metadata and API keys go with it (ON DELETE CASCADE). */
    async delete(id: string): Promise<boolean> {
      return ((await repo.delete({ id })).affected ?? 0) > 0;
    },
    async insert(account: NewAccount): Promise<Account> {
      try {
        return await repo.save(repo.create(account));
      } catch (error) {
        if (isUniqueViolation(error)) throw new ConflictError('email_taken', 'an account with this email exists');
        throw error;
      }
    },
    async update(id: string, changes: Partial<Omit<Account, 'id' | 'createdAt'>>): Promise<void> {
      await repo.update({ id }, changes);
    },
    /** Voids every "trust this device" cookie of the account. */
    async bumpTrustedDeviceEpoch(id: string): Promise<void> {
      await manager.query(`UPDATE accounts SET trusted_device_epoch = trusted_device_epoch + 1 WHERE id = $1`, [id]);
    },
    /** A confirmed address change; a taken address surfaces as ConflictError. */
    async updateEmail(id: string, email: string): Promise<void> {
      try {
        await repo.update({ id }, { email, emailVerified: true });
      } catch (error) {
        if (isUniqueViolation(error)) throw new ConflictError('email_taken', 'an account with this email exists');
        throw error;
      }
    },
    list: (limit: number, afterEmail?: string) => {
      const query = repo.createQueryBuilder('a').orderBy('lower(a.email)').limit(limit);
      if (afterEmail) query.where('lower(a.email) > lower(:afterEmail)', { afterEmail });
      return query.getMany();
    },
  };
}

export type AccountRepository = ReturnType<typeof createAccountRepository>;
