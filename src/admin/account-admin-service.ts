import type { AccountView } from '../accounts/account-service.js';
import type { Account } from '../accounts/account.entity.js';
import { createLoginThrottleFor } from '../accounts/login-throttle.js';
import { createSecondFactorThrottleFor } from '../mfa/second-factor-throttle.js';
import type { Config } from '../config/schema.js';
import { BadRequestError, NotFoundError, assertThat } from '../errors/app-error.js';
import type { DataSource } from '../infra/data-source.js';
import { createRedis, type RedisClient } from '../infra/redis.js';
import type { Database } from '../infra/unit-of-work.js';
import type { MfaService } from '../mfa/mfa-service.js';
import { roleNamePattern } from '../rbac/rbac-service.js';
import type { Repositories } from '../repositories.js';
import type { SessionRevoker } from '../oidc/session-revoker.js';
import type { SessionService } from '../sessions/session-service.js';
import { requireCanonicalEmail } from '../identifiers/email-refused-error.js';

/** Who makes a change: "cli", "admin:<sub>", or that with the request's IP and user agent for the audit row. */
export type AdminActor = string | { actor: string; ip?: string; userAgent?: string };

/** Runs inside the transaction, on the locked row, before the change: throw to refuse it (If-Match). */
export interface ChangeOptions { precondition?: (current: AccountView) => void }

export interface AccountChanges { name?: string | null; mfaRequired?: boolean; emailVerified?: boolean }

export interface AccountAdminDeps {
  db: Database<Repositories>;
  sessionService: Pick<SessionService, 'endAll'>;
  /** Ends sessions without an audit row of its own: after an MFA reset, `mfa.reset` is the record. */
  sessions: Pick<SessionRevoker, 'revokeAccount'>;
  mfa: Pick<MfaService, 'reset'>;
  /** The container's Redis; the CLI runs without one and connects for `unlock` when config names one. */
  redis?: RedisClient;
  dataSource: DataSource;
  config: Pick<Config, 'redisUrl' | 'redis' | 'lockout' | 'captcha' | 'mfa'>;
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The fields an admin change touches, compared as JSON so Dates and nulls compare by value. */
type Field = 'name' | 'mfaRequired' | 'emailVerified' | 'disabledAt';

function diff(before: Account, after: Partial<Pick<Account, Field>>): { before: Record<string, unknown>; after: Record<string, unknown> } | undefined {
  const keys = (Object.keys(after) as Field[]).filter((key) => JSON.stringify(before[key]) !== JSON.stringify(after[key]));
  if (!keys.length) return undefined;
  return { before: Object.fromEntries(keys.map((key) => [key, before[key]])), after: Object.fromEntries(keys.map((key) => [key, after[key]])) };
}

/**
 * What an administrator does to accounts, from the CLI, the admin REST API and the admin console:
 * one place, so each audits the same way (actor, and before/after of the changed fields; never secrets).
 */
export function createAccountAdminService(deps: AccountAdminDeps) {
  const { db } = deps;
  const who = (actor: AdminActor) => (typeof actor === 'string' ? { actor } : actor);

  async function view(repos: Repositories, account: Account): Promise<AccountView> {
    const { passwordHash: _hidden, ...rest } = account;
    return { ...rest, roles: await repos.roles.namesForAccount(account.id) };
  }

  async function find(repos: Repositories, idOrEmail: string, lock: boolean): Promise<Account> {
    const ref = idOrEmail.trim();
    const account = ref.includes('@') ? await (lock ? repos.accounts.findByEmailForUpdate(ref) : repos.accounts.findByEmail(ref))
      : uuidPattern.test(ref) ? await (lock ? repos.accounts.findByIdForUpdate(ref) : repos.accounts.findById(ref)) : null;
    assertThat(account, new NotFoundError('account_not_found', `no account ${idOrEmail}`));
    return account;
  }

  /**
   * Locks the account, runs the precondition, writes the changed fields and audits them as `type`;
   * nothing changed means nothing written and nothing recorded.
   */
  async function change(idOrEmail: string, actor: AdminActor, type: string, compute: (account: Account) => Partial<Pick<Account, Field>>, options: ChangeOptions = {}): Promise<AccountView> {
    return db.transaction(async (repos) => {
      const account = await find(repos, idOrEmail, true);
      options.precondition?.(await view(repos, account));
      const changes = compute(account);
      const delta = diff(account, changes);
      if (!delta) return view(repos, account);
      await repos.accounts.update(account.id, delta.after as Partial<Pick<Account, Field>>);
      await repos.audit.append({ type, ...who(actor), accountId: account.id, details: delta });
      // Read back: updated_at is set by the database and is part of the representation (its ETag).
      return view(repos, (await repos.accounts.findById(account.id))!);
    });
  }

  async function endSessionsOf(account: AccountView, actor: AdminActor): Promise<number> {
    return deps.sessionService.endAll(account.id, who(actor));
  }

  /**
   * Lifts the password lockout kept for `email` and, for an account, its second-factor lockout;
   * the CLI's container has no Redis, so it connects for this call.
   */
  async function liftLockout(email: string, accountId?: string): Promise<void> {
    const { config } = deps;
    const redis = deps.redis ?? (config.redisUrl ? createRedis(config.redisUrl, {
      keyPrefix: config.redis.keyPrefix, connectTimeout: config.redis.connectTimeoutMs,
      commandTimeout: config.redis.commandTimeoutMs,
    }) : undefined);
    // The command's own rejection reports an outage; without a listener ioredis prints a stack on stderr.
    if (redis && redis !== deps.redis) redis.on('error', () => {});
    try {
      await createLoginThrottleFor({ redis, dataSource: deps.dataSource, config }).unlock(email);
      if (accountId) {
        await createSecondFactorThrottleFor({ redis, dataSource: deps.dataSource, config }).unlock(accountId);
      }
    } finally {
      if (redis && redis !== deps.redis) await redis.quit().catch(() => redis.disconnect());
    }
  }

  const service = {
    show: async (idOrEmail: string): Promise<AccountView> => view(db.repos, await find(db.repos, idOrEmail, false)),

    /** No sign-in, and every session ends with its grants and tokens (back-channel logout when the provider runs). */
    async disable(idOrEmail: string, actor: AdminActor, options?: ChangeOptions): Promise<AccountView> {
      const account = await change(idOrEmail, actor, 'account.disabled', (current) => ({ disabledAt: current.disabledAt ?? new Date() }), options);
      await endSessionsOf(account, actor);
      return account;
    },

    enable: (idOrEmail: string, actor: AdminActor, options?: ChangeOptions): Promise<AccountView> =>
      change(idOrEmail, actor, 'account.enabled', () => ({ disabledAt: null }), options),

    verifyEmail: (idOrEmail: string, actor: AdminActor, options?: ChangeOptions): Promise<AccountView> =>
      change(idOrEmail, actor, 'account.email_verified', () => ({ emailVerified: true }), options),

    /** Changes the given fields only; an empty name clears it. */
    async update(idOrEmail: string, changes: AccountChanges, actor: AdminActor, options?: ChangeOptions): Promise<AccountView> {
      const name = changes.name === undefined ? undefined : changes.name?.trim() || null;
      if (name && name.length > 200) throw new BadRequestError('invalid_name', 'name is at most 200 characters');
      const wanted: Partial<Pick<Account, Field>> = {
        ...(name !== undefined ? { name } : {}),
        ...(changes.mfaRequired !== undefined ? { mfaRequired: changes.mfaRequired } : {}),
        ...(changes.emailVerified !== undefined ? { emailVerified: changes.emailVerified } : {}),
      };
      return change(idOrEmail, actor, 'account.updated', () => wanted, options);
    },

    /** Lifts the sign-in lockouts, password and second factor (temporary or permanent); forgets the failures. */
    async unlock(idOrEmail: string, actor: AdminActor): Promise<AccountView> {
      const account = await service.show(idOrEmail);
      await liftLockout(account.emailCanonical, account.id);
      await db.repos.audit.append({ type: 'account.unlocked', ...who(actor), accountId: account.id });
      return account;
    },

    /**
     * Lifts the lockout kept for an email, which exists for unknown emails too (lockouts don't
     * reveal whether an account exists); audited when an account has that email.
     */
    async unlockEmail(email: string, actor: AdminActor): Promise<AccountView | undefined> {
      const account = await service.show(email).catch((error: unknown) => {
        if (error instanceof NotFoundError) return undefined;
        throw error;
      });
      if (account) return service.unlock(account.id, actor);
      // The same key sign-in counts under; an address with no canonical form is refused (400) here.
      await liftLockout(requireCanonicalEmail(email).canonical);
      return undefined;
    },

    /** Removes every second factor and recovery code (audited as mfa.reset), then ends every session: it enrols again if a policy requires one. */
    async resetMfa(idOrEmail: string, actor: AdminActor): Promise<{ account: AccountView; factorsRemoved: number }> {
      const account = await service.show(idOrEmail);
      const factorsRemoved = await deps.mfa.reset(account.id, who(actor).actor);
      // mfa.reset already voided trusted devices; this ends sessions, grants and tokens (back-channel logout too).
      await deps.sessions.revokeAccount(account.id);
      return { account: await service.show(account.id), factorsRemoved };
    },

    /** Signs the account out everywhere: sessions, grants, refresh and access tokens (audited as sessions.ended_all). */
    async endSessions(idOrEmail: string, actor: AdminActor): Promise<{ account: AccountView; sessionsEnded: number }> {
      const account = await service.show(idOrEmail);
      const sessionsEnded = await endSessionsOf(account, actor);
      return { account: await service.show(account.id), sessionsEnded };
    },

    /** Replaces the account's roles with `roles`; every name must be an existing role (422 `unknown_role` naming it). */
    async setRoles(idOrEmail: string, roles: string[], actor: AdminActor, options: ChangeOptions = {}): Promise<AccountView> {
      const wanted = [...new Set(roles.map((role) => role.trim()))].sort();
      return db.transaction(async (repos) => {
        const account = await find(repos, idOrEmail, true);
        const current = await view(repos, account);
        options.precondition?.(current);
        const roleIds = new Map<string, string>();
        for (const name of wanted) {
          const role = roleNamePattern.test(name) ? await repos.roles.findByName(name) : null;
          if (!role) throw new BadRequestError('unknown_role', `no role named ${name}`);
          roleIds.set(name, role.id);
        }
        const added = wanted.filter((name) => !current.roles.includes(name));
        const removed = current.roles.filter((name) => !wanted.includes(name));
        if (!added.length && !removed.length) return current;
        for (const name of added) await repos.roles.assign(account.id, roleIds.get(name)!);
        for (const name of removed) {
          const role = await repos.roles.findByName(name);
          if (role) await repos.roles.unassign(account.id, role.id);
        }
        await repos.audit.append({
          type: 'account.roles_changed', ...who(actor), accountId: account.id,
          details: { before: { roles: current.roles }, after: { roles: wanted }, added, removed },
        });
        return view(repos, account);
      });
    },

    /** Ends its sessions, then deletes the account with its factors, roles and API keys. Answers the account as it was. */
    async delete(idOrEmail: string, actor: AdminActor): Promise<AccountView> {
      const account = await service.show(idOrEmail);
      await endSessionsOf(account, actor);
      return db.transaction(async (repos) => {
        const locked = await find(repos, account.id, true);
        const apiKeys = (await repos.apiKeys.list({ accountId: locked.id })).length;
        const last = await view(repos, locked);
        await repos.accounts.delete(locked.id);
        // The email is kept so the trail says who was deleted; the account's own rows are gone.
        await repos.audit.append({
          type: 'account.deleted', ...who(actor), accountId: locked.id,
          details: { email: locked.email, name: locked.name, roles: last.roles, apiKeyCount: apiKeys },
        });
        return last;
      });
    },
  };
  return service;
}

export type AccountAdminService = ReturnType<typeof createAccountAdminService>;
