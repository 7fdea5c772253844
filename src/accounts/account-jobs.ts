import type { Config } from '../config/schema.js';
import type { Repositories } from '../repositories.js';
import type { OutboxMessage } from '../outbox/outbox-message.entity.js';
import { auditContext, type FlowContext } from './account-flow-deps.js';
import type { AccountLinks } from './account-links.js';
import type { AccountNotifier } from './account-notifier.js';
import { issueLinkToken } from './account-tokens.js';

/**
 * Account work that must not run on the request path: whether it happens (an account exists)
 * would show in the answer's timing. The request enqueues one of these jobs whatever the
 * identifier; the outbox worker does the account-specific part. Payloads name the identifier and
 * who asked (for the audit trail), never a secret.
 */
export const AccountJob = {
  passwordResetRequested: 'password_reset_requested',
  verificationResendRequested: 'verification_resend_requested',
  registrationRequested: 'registration_requested',
  emailChangeRequested: 'email_change_requested',
  accountLockAnnounced: 'account_lock_announced',
} as const;

export interface AccountJobPayloads {
  password_reset_requested: { email: string; context: FlowContext };
  verification_resend_requested: { email: string; returnTo?: string; context: FlowContext };
  /** `accountId`: the account this registration created, or null when the address was taken. */
  registration_requested: { email: string; accountId: string | null; returnTo?: string; context: FlowContext };
  email_change_requested: { accountId: string; newEmail: string; context: FlowContext };
  /** `lockSeconds` null: locked until unlocked. */
  account_lock_announced: { email: string; lockSeconds: number | null; context: FlowContext };
}

export interface AccountJobDeps {
  notifier: AccountNotifier;
  links: AccountLinks;
  settings: Config['accounts'];
  lockoutMaxSeconds: number;
  now?: () => Date;
}

type Handlers = {
  [K in keyof AccountJobPayloads]: (payload: AccountJobPayloads[K], repos: Repositories) => Promise<void>;
};
type Purpose = 'reset_password' | 'verify_email' | 'change_email' | 'unlock';

/** The handlers, by job kind, for the outbox worker. */
export function accountJobHandlers(deps: AccountJobDeps) {
  const { notifier, links, settings } = deps;
  const now = deps.now ?? (() => new Date());
  const hours = (seconds: number) => Math.round(seconds / 3600);
  /** A fresh link token for the account (older ones of the purpose voided), inside the job's transaction. */
  const issue = (repos: Repositories, accountId: string, purpose: Purpose, email: string, ttlSeconds: number) =>
    issueLinkToken(repos.accountTokens, { accountId, purpose, email, ttlSeconds, now: now() });
  const audit = (repos: Repositories, type: string, actor: string, accountId: string, context: FlowContext,
    details?: Record<string, unknown>) =>
    repos.audit.append({ type, actor, accountId, ...auditContext(context), details });
  /** The owner of a taken address hears of the attempt; whoever asked saw the same page as for a free one. */
  const tellOwner = (repos: Repositories, owner: { id: string; email: string }, context: FlowContext) =>
    notifier.sendWithin(repos, 'account-exists', owner.email, context.locale,
      { loginLink: links.account(), resetLink: links.forgotPassword() }, { accountId: owner.id });

  const handlers: Handlers = {
    async password_reset_requested({ email, context }, repos) {
      const account = await repos.accounts.findByEmail(email.trim());
      if (!account || account.disabledAt) return;
      const token = await issue(repos, account.id, 'reset_password', account.email, settings.resetTtl);
      await notifier.sendWithin(repos, 'reset-password', account.email, context.locale,
        { link: links.resetPassword(token), expiresMinutes: Math.round(settings.resetTtl / 60) },
        { accountId: account.id });
      await audit(repos, 'password.reset_requested', 'anonymous', account.id, context);
    },

    async verification_resend_requested({ email, returnTo, context }, repos) {
      const account = await repos.accounts.findByEmail(email.trim());
      if (!account || account.emailVerified || account.disabledAt) return;
      const token = await issue(repos, account.id, 'verify_email', account.email, settings.verificationTtl);
      await notifier.sendWithin(repos, 'verify-email', account.email, context.locale,
        { link: links.verifyEmail(token, returnTo), expiresHours: hours(settings.verificationTtl) },
        { accountId: account.id });
    },

    async registration_requested({ email, accountId, returnTo, context }, repos) {
      if (!accountId) {
        const existing = await repos.accounts.findByEmail(email);
        if (!existing) return;
        await tellOwner(repos, existing, context);
        await audit(repos, 'account.registration_duplicate', 'anonymous', existing.id, context);
        return;
      }
      const account = await repos.accounts.findById(accountId);
      if (!account) return;
      await audit(repos, 'account.registered', `account:${account.id}`, account.id, context, { email: account.email });
      const token = await issue(repos, account.id, 'verify_email', account.email, settings.verificationTtl);
      await notifier.sendWithin(repos, 'verify-email', account.email, context.locale,
        { link: links.verifyEmail(token, returnTo), expiresHours: hours(settings.verificationTtl) },
        { accountId: account.id });
    },

    async email_change_requested({ accountId, newEmail, context }, repos) {
      const owner = await repos.accounts.findByEmail(newEmail);
      if (owner) return void await tellOwner(repos, owner, context);
      const token = await issue(repos, accountId, 'change_email', newEmail, settings.emailChangeTtl);
      await notifier.sendWithin(repos, 'change-email-verify', newEmail, context.locale,
        { link: links.confirmEmailChange(token), newEmail, expiresHours: hours(settings.emailChangeTtl) },
        { accountId });
      await audit(repos, 'email.change_requested', `account:${accountId}`, accountId, context, { newEmail });
    },

    async account_lock_announced({ email, lockSeconds, context }, repos) {
      const account = await repos.accounts.findByEmail(email);
      if (!account) return;
      const token = await issue(repos, account.id, 'unlock', account.email, settings.unlockTtl);
      const lockedMinutes = Math.ceil((lockSeconds ?? deps.lockoutMaxSeconds) / 60);
      await notifier.sendWithin(repos, 'account-locked', account.email, context.locale,
        { unlockLink: links.unlock(token), lockedMinutes }, { accountId: account.id });
      await audit(repos, 'account.locked', 'system', account.id, context,
        { lockSeconds, permanent: lockSeconds === null });
    },
  };

  type AnyHandler = (payload: unknown, repos: Repositories) => Promise<void>;
  return Object.entries(handlers).map(([kind, handle]) => ({
    kind,
    handle: (message: OutboxMessage, repos: Repositories) => (handle as AnyHandler)(message.payload, repos),
  }));
}
