import type { EntityManager } from 'typeorm';
import { ConflictError } from '../errors/app-error.js';
import { emailCursor, emailKey } from '../identifiers/canonical-email.js';
import { requireCanonicalEmail } from '../identifiers/email-refused-error.js';
import { AccountEntity, type Account } from './account.entity.js';

/** What `update` may change: everything but the id, the creation time and the address (see updateEmail). */
export type AccountChanges = Partial<Omit<Account, 'id' | 'createdAt' | 'email' | 'emailCanonical'>>;

/** `emailCanonical` is derived here from `email`, never passed in, so no caller can store a second spelling. */
export type NewAccount = Pick<Account, 'email' | 'emailVerified' | 'passwordHash' | 'name'> & { passwordChangedAt?: Date | null };

interface AccountRow {
  id: string; email: string; email_canonical: string; email_verified: boolean; password_hash: string | null;
  name: string | null;
  disabled_at: Date | null; password_changed_at: Date | null; mfa_required: boolean; trusted_device_epoch: number;
  created_at: Date; updated_at: Date;
}
const toAccount = (row: AccountRow): Account => ({
  id: row.id, email: row.email, emailCanonical: row.email_canonical, emailVerified: row.email_verified,
  passwordHash: row.password_hash, name: row.name,
  disabledAt: row.disabled_at, passwordChangedAt: row.password_changed_at, mfaRequired: row.mfa_required,
  trustedDeviceEpoch: row.trusted_device_epoch, createdAt: row.created_at, updatedAt: row.updated_at,
});

function isUniqueViolation(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: string }).code === '23505';
}

/** The canonical form of a looked-up address; an address `canonicalEmail` refuses matches no account. */
const lookupKey = emailKey;

/** Accounts by id and by canonical email (`canonicalEmail`, unique index accounts_email_canonical_key). */
export function createAccountRepository(manager: EntityManager) {
  const repo = manager.getRepository(AccountEntity);
  return {
    /** Plain SQL mapped by hand: userinfo, refresh and every token for an account read this, and the query builder cost more than the query. */
    async findById(id: string): Promise<Account | null> {
      const rows: AccountRow[] = await manager.query(
        `SELECT id, email, email_canonical, email_verified, password_hash, name, disabled_at, password_changed_at,
                mfa_required,
                trusted_device_epoch, created_at, updated_at FROM accounts WHERE id = $1`, [id]);
      return rows[0] ? toAccount(rows[0]) : null;
    },
    /** The account whose canonical email equals that of `email` (any spelling); null when none or refused. */
    async findByEmail(email: string): Promise<Account | null> {
      const key = lookupKey(email);
      return key === undefined ? null : repo.findOneBy({ emailCanonical: key });
    },
    /**
     * The row, locked FOR UPDATE until the transaction ends: a concurrent change waits, then reads
     * what this one wrote (If-Match checks and the update they guard are one step). Needs a transaction.
     */
    findByIdForUpdate: (id: string) => repo.createQueryBuilder('a').setLock('pessimistic_write').where('a.id = :id', { id }).getOne(),
    async findByEmailForUpdate(email: string): Promise<Account | null> {
      const key = lookupKey(email);
      if (key === undefined) return null;
      return repo.createQueryBuilder('a').setLock('pessimistic_write')
        .where('a.emailCanonical = :key', { key }).getOne();
    },
    /** Deletes the account; its tokens, factors, roles, sessions' metadata and API keys go with it (ON DELETE CASCADE). */
    async delete(id: string): Promise<boolean> {
      return ((await repo.delete({ id })).affected ?? 0) > 0;
    },
    /** Refuses (EmailRefusedError) an address with no canonical form; a taken canonical form is a ConflictError. */
    async insert(account: NewAccount): Promise<Account> {
      const { canonical, display } = requireCanonicalEmail(account.email);
      try {
        return await repo.save(repo.create({ ...account, email: display, emailCanonical: canonical }));
      } catch (error) {
        if (isUniqueViolation(error)) throw new ConflictError('email_taken', 'an account with this email exists');
        throw error;
      }
    },
    /** Not for the address: that changes through updateEmail, which keeps the canonical form with it. */
    async update(id: string, changes: AccountChanges): Promise<void> {
      await repo.update({ id }, changes);
    },
    /** Voids every "trust this device" cookie of the account. */
    async bumpTrustedDeviceEpoch(id: string): Promise<void> {
      await manager.query(`UPDATE accounts SET trusted_device_epoch = trusted_device_epoch + 1 WHERE id = $1`, [id]);
    },
    /** A confirmed address change; a taken address surfaces as ConflictError. */
    async updateEmail(id: string, email: string): Promise<void> {
      const { canonical, display } = requireCanonicalEmail(email);
      try {
        await repo.update({ id }, { email: display, emailCanonical: canonical, emailVerified: true });
      } catch (error) {
        if (isUniqueViolation(error)) throw new ConflictError('email_taken', 'an account with this email exists');
        throw error;
      }
    },
    /** By canonical email; `afterEmail` (any spelling of the last one seen) continues after it. */
    list: (limit: number, afterEmail?: string) => {
      const query = repo.createQueryBuilder('a').orderBy('a.emailCanonical').limit(limit);
      const after = emailCursor(afterEmail);
      if (after !== null) query.where('a.emailCanonical > :after', { after });
      return query.getMany();
    },
  };
}

export type AccountRepository = ReturnType<typeof createAccountRepository>;
