import { createHmac } from 'node:crypto';
import type { FlowContext } from '../accounts/account-flow-deps.js';
import { auditContext } from '../accounts/account-flow-deps.js';
import { assertPasswordAccepted } from '../accounts/password-errors.js';
import type { PasswordHasher } from '../accounts/password-hasher.js';
import type { PasswordPolicy } from '../accounts/password-policy.js';
import { ConflictError } from '../errors/app-error.js';
import { requireCanonicalEmail } from '../identifiers/email-refused-error.js';
import { safeEqual } from '../http/constant-time.js';
import type { Database } from '../infra/unit-of-work.js';
import type { Repositories } from '../repositories.js';


export interface SetupDeps {
  db: Database<Repositories>;
  hasher: PasswordHasher;
  policy: PasswordPolicy;
  /** Signs setup links; derived from the encryption key so every instance accepts the link one logged. */
  key: string;
  ttlSeconds?: number;
  now?: () => number;
}

/**
 * First run: while no account has the admin role, start-up logs a signed link valid for an hour
 * where the first admin creates their account. Once an admin exists the link is dead.
 */
export function createSetupService(deps: SetupDeps) {
  const { db, hasher, policy } = deps;
  const now = deps.now ?? Date.now;
  const ttl = deps.ttlSeconds ?? 3600;
  const sign = (expires: number) => createHmac('sha256', deps.key).update(`first-run-setup:${expires}`).digest('base64url');

  return {
    adminExists: () => db.repos.roles.hasMembers('admin'),

    /** A one-time setup link for the log. */
    link(issuer: string): string {
      const expires = Math.floor(now() / 1000) + ttl;
      return `${issuer}/setup?expires=${expires}&sig=${sign(expires)}`;
    },

    /** Whether a link's signature is ours and it hasn't expired. */
    isValid(expires: string | undefined, sig: string | undefined): boolean {
      if (!expires || !sig || !/^\d{1,12}$/.test(expires)) return false;
      return safeEqual(sign(Number(expires)), sig) && Number(expires) > now() / 1000;
    },

    /** Creates the first admin (verified, second factor required at the first sign-in); refuses once one exists. */
    async createFirstAdmin(input: { email: string; password: string; name?: string }, context: FlowContext): Promise<string> {
      const { canonical, display: email } = requireCanonicalEmail(input.email);
      assertPasswordAccepted(await policy.check(input.password, { email, name: input.name, mfaRequired: true }));
      const passwordHash = await hasher.hash(input.password);
      return db.transaction(async (repos) => {
        await repos.roles.lockSetup();
        if (await repos.roles.hasMembers('admin')) throw new ConflictError('setup_done', 'An administrator exists already.');
        const account = await repos.accounts.insert({ email, emailVerified: true, passwordHash, name: input.name?.trim() || null, passwordChangedAt: new Date(now()) });
        await repos.accounts.update(account.id, { mfaRequired: true });
        const role = await repos.roles.ensure('admin');
        await repos.roles.assign(account.id, role.id);
        await repos.audit.append({
          type: 'setup.first_admin_created', actor: `account:${account.id}`, accountId: account.id,
          ...auditContext(context), details: { email: canonical },
        });
        return account.id;
      });
    },
  };
}

export type SetupService = ReturnType<typeof createSetupService>;
