import { BadRequestError, NotFoundError, assertThat } from '../errors/app-error.js';
import type { Database } from '../infra/unit-of-work.js';
import type { Repositories } from '../repositories.js';
import { canonicalEmail } from '../identifiers/canonical-email.js';
import { EmailRefusedError, requireCanonicalEmail } from '../identifiers/email-refused-error.js';
import { canonicalUuid } from '../identifiers/opaque-id.js';
import type { Account } from './account.entity.js';
import { isImportableHash, type PasswordHasher } from './password-hasher.js';

export interface RequestContext { ip?: string; userAgent?: string; clientId?: string }

export interface NewAccountInput { email: string; password: string; name?: string; verified?: boolean; roles?: string[] }

export interface ImportedAccount { email: string; passwordHash: string; name?: string; emailVerified?: boolean }

export type AccountView = Omit<Account, 'passwordHash'> & { roles: string[] };

/** An account named by email (any spelling, looked up by its canonical form) or by id. */
function findByRef(repos: Repositories, idOrEmail: string): Promise<Account | null> {
  if (idOrEmail.includes('@')) return repos.accounts.findByEmail(idOrEmail);
  const id = canonicalUuid(idOrEmail);
  return id ? repos.accounts.findById(id) : Promise.resolve(null);
}

/** Account lifecycle and password sign-in. */
export function createAccountService({ db, hasher }: { db: Database<Repositories>; hasher: PasswordHasher }) {
  async function view(repos: Repositories, account: Account): Promise<AccountView> {
    const { passwordHash: _hidden, ...rest } = account;
    return { ...rest, roles: await repos.roles.namesForAccount(account.id) };
  }

  return {
    async create(input: NewAccountInput, actor: string): Promise<AccountView> {
      const { canonical, display: email } = requireCanonicalEmail(input.email);
      if (!input.password) throw new BadRequestError('invalid_password', 'a password is required');
      const passwordHash = await hasher.hash(input.password);
      return db.transaction(async (repos) => {
        const account = await repos.accounts.insert({ email, emailVerified: input.verified ?? false, passwordHash, name: input.name?.trim() || null });
        for (const roleName of input.roles ?? []) {
          const role = await repos.roles.ensure(roleName);
          await repos.roles.assign(account.id, role.id);
          await repos.audit.append({ type: 'role.assigned', actor, accountId: account.id, details: { role: roleName } });
        }
        await repos.audit.append({ type: 'account.created', actor, accountId: account.id, details: {
          email: canonical, verified: account.emailVerified,
        } });
        return view(repos, account);
      });
    },

    /**
     * Imports accounts from another system in one transaction: all or nothing. bcrypt and PBKDF2
     * hashes are kept as they are and become argon2id at each person's next sign-in.
     */
    async importAccounts(records: ImportedAccount[], actor: string): Promise<number> {
      records.forEach((record, index) => {
        const refused = canonicalEmail(record.email);
        if (!refused.ok) throw new EmailRefusedError(refused.code, `record ${index + 1}: email`, refused.reason);
        if (!isImportableHash(record.passwordHash)) throw new BadRequestError('unsupported_hash', `record ${index + 1}: password_hash is not argon2id, bcrypt or PBKDF2`);
      });
      return db.transaction(async (repos) => {
        for (const [index, record] of records.entries()) {
          const account = await repos.accounts.insert({
            email: record.email.trim(), emailVerified: record.emailVerified ?? false, passwordHash: record.passwordHash, name: record.name?.trim() || null, passwordChangedAt: null,
          }).catch((error: unknown) => {
            throw (error as { code?: string }).code === 'email_taken' ? new BadRequestError('email_taken', `record ${index + 1}: ${record.email} already has an account`) : error;
          });
          await repos.audit.append({ type: 'account.imported', actor, accountId: account.id, details: {
            email: account.emailCanonical,
            hashFormat: record.passwordHash.split('$')[1] ?? record.passwordHash.split('$')[0],
          } });
        }
        return records.length;
      });
    },

    async show(idOrEmail: string): Promise<AccountView> {
      const account = await findByRef(db.repos, idOrEmail);
      assertThat(account, new NotFoundError('account_not_found', `no account ${idOrEmail}`));
      return view(db.repos, account);
    },

    async list(limit = 100, after?: string): Promise<AccountView[]> {
      const accounts = await db.repos.accounts.list(limit, after);
      return Promise.all(accounts.map((account) => view(db.repos, account)));
    },

    /** Disabling stops sign-in and makes findAccount fail, so its tokens stop working too. */
    async setDisabled(idOrEmail: string, disabled: boolean, actor: string): Promise<AccountView> {
      return db.transaction(async (repos) => {
        const account = await findByRef(repos, idOrEmail);
        assertThat(account, new NotFoundError('account_not_found', `no account ${idOrEmail}`));
        const disabledAt = disabled ? account.disabledAt ?? new Date() : null;
        await repos.accounts.update(account.id, { disabledAt });
        await repos.audit.append({ type: disabled ? 'account.disabled' : 'account.enabled', actor, accountId: account.id });
        return view(repos, { ...account, disabledAt });
      });
    },

    /** Sets whether the account must use a second factor at every sign-in. */
    async setMfaRequired(idOrEmail: string, required: boolean, actor: string): Promise<AccountView> {
      return db.transaction(async (repos) => {
        const account = await findByRef(repos, idOrEmail);
        assertThat(account, new NotFoundError('account_not_found', `no account ${idOrEmail}`));
        await repos.accounts.update(account.id, { mfaRequired: required });
        await repos.audit.append({ type: 'account.mfa_policy_changed', actor, accountId: account.id, details: { before: account.mfaRequired, after: required } });
        return view(repos, { ...account, mfaRequired: required });
      });
    },

    findById: (id: string) => db.repos.accounts.findById(id),
    rolesOf: (id: string) => db.repos.roles.namesForAccount(id),

    /**
     * The account when email and password match and it is enabled, else undefined. Unknown
     * emails still cost one argon2 verification so timing doesn't reveal which accounts exist.
     */
    async authenticate(email: string, password: string, context: RequestContext): Promise<Account | undefined> {
      const account = await db.repos.accounts.findByEmail(email);
      const matches = await hasher.verify(account?.passwordHash, password);
      const ok = matches && account !== null && account.disabledAt === null;
      await db.repos.audit.append({
        type: ok ? 'login.succeeded' : 'login.failed', actor: ok ? `account:${account.id}` : 'anonymous',
        accountId: account?.id, clientId: context.clientId, ip: context.ip, userAgent: context.userAgent,
        details: ok ? { method: 'pwd' } : { reason: 'invalid_credentials' },
      });
      if (!ok) return undefined;
      if (hasher.needsRehash(account.passwordHash!)) {
        await db.repos.accounts.update(account.id, { passwordHash: await hasher.hash(password) });
      }
      return account;
    },
  };
}

export type AccountService = ReturnType<typeof createAccountService>;
