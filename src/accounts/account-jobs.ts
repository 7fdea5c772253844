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

type Handlers = { [K in keyof AccountJobPayloads]: (payload: AccountJobPayloads[K], repos: Repositories) => Promise<void> };

/** The handlers, by job kind, for the outbox worker. */
export function accountJobHandlers(deps: AccountJobDeps) {
  const { notifier, links, settings } = deps;
  const now = deps.now ?? (() => new Date());
  const hours = (seconds: number) => Math.round(seconds / 3600);

  const handlers: Handlers = {
    async password_reset_requested({ email, context }, repos) {
      const account = await repos.accounts.findByEmail(email.trim());
      if (!account || account.disabledAt) return;
      const token = await issueLinkToken(repos.accountTokens, { accountId: account.id, purpose: 'reset_password', email: account.email, ttlSeconds: settings.resetTtl, now: now() });
      await notifier.sendWithin(repos, 'reset-password', account.email, context.locale,
        { link: links.resetPassword(token), expiresMinutes: Math.round(settings.resetTtl / 60) }, { accountId: account.id });
      await repos.audit.append({ type: 'password.reset_requested', actor: 'anonymous', accountId: account.id, ...auditContext(context) });
    },

    async verification_resend_requested({ email, returnTo, context }, repos) {
      const account = await repos.accounts.findByEmail(email.trim());
      if (!account || account.emailVerified || account.disabledAt) return;
      const token = await issueLinkToken(repos.accountTokens, { accountId: account.id, purpose: 'verify_email', email: account.email, ttlSeconds: settings.verificationTtl, now: now() });
      await notifier.sendWithin(repos, 'verify-email', account.email, context.locale,
        { link: links.verifyEmail(token, returnTo), expiresHours: hours(settings.verificationTtl) }, { accountId: account.id });
    },

    async registration_requested({ email, accountId, returnTo, context }, repos) {
      if (!accountId) {
        // The address already had an account: its owner hears of the attempt; the person registering saw the same page.
        const existing = await repos.accounts.findByEmail(email);
        if (!existing) return;
        await notifier.sendWithin(repos, 'account-exists', existing.email, context.locale,
          { loginLink: links.account(), resetLink: links.forgotPassword() }, { accountId: existing.id });
        await repos.audit.append({ type: 'account.registration_duplicate', actor: 'anonymous', accountId: existing.id, ...auditContext(context) });
        return;
      }
      const account = await repos.accounts.findById(accountId);
      if (!account) return;
      await repos.audit.append({ type: 'account.registered', actor: `account:${account.id}`, accountId: account.id, ...auditContext(context), details: { email: account.email } });
      const token = await issueLinkToken(repos.accountTokens, { accountId: account.id, purpose: 'verify_email', email: account.email, ttlSeconds: settings.verificationTtl, now: now() });
      await notifier.sendWithin(repos, 'verify-email', account.email, context.locale,
        { link: links.verifyEmail(token, returnTo), expiresHours: hours(settings.verificationTtl) }, { accountId: account.id });
    },

    async email_change_requested({ accountId, newEmail, context }, repos) {
      const owner = await repos.accounts.findByEmail(newEmail);
      if (owner) {
        // A taken address gets the owner's notice instead of a link; the page said the same thing.
        await notifier.sendWithin(repos, 'account-exists', owner.email, context.locale,
          { loginLink: links.account(), resetLink: links.forgotPassword() }, { accountId: owner.id });
        return;
      }
      const token = await issueLinkToken(repos.accountTokens, { accountId, purpose: 'change_email', email: newEmail, ttlSeconds: settings.emailChangeTtl, now: now() });
      await notifier.sendWithin(repos, 'change-email-verify', newEmail, context.locale,
        { link: links.confirmEmailChange(token), newEmail, expiresHours: hours(settings.emailChangeTtl) }, { accountId });
      await repos.audit.append({ type: 'email.change_requested', actor: `account:${accountId}`, accountId, ...auditContext(context), details: { newEmail } });
    },

    async account_lock_announced({ email, lockSeconds, context }, repos) {
      const account = await repos.accounts.findByEmail(email);
      if (!account) return;
      const token = await issueLinkToken(repos.accountTokens, { accountId: account.id, purpose: 'unlock', email: account.email, ttlSeconds: settings.unlockTtl, now: now() });
      const lockedMinutes = Math.ceil((lockSeconds ?? deps.lockoutMaxSeconds) / 60);
      await notifier.sendWithin(repos, 'account-locked', account.email, context.locale, { unlockLink: links.unlock(token), lockedMinutes }, { accountId: account.id });
      await repos.audit.append({ type: 'account.locked', actor: 'system', accountId: account.id, ...auditContext(context), details: { lockSeconds, permanent: lockSeconds === null } });
    },
  };

  return Object.entries(handlers).map(([kind, handle]) => ({
    kind,
    handle: (message: OutboxMessage, repos: Repositories) => (handle as (payload: unknown, repos: Repositories) => Promise<void>)(message.payload, repos),
  }));
}
