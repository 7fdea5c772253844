import { BadRequestError, NotFoundError } from '../errors/app-error.js';
import type { RateLimits } from '../http/rate-limit.js';
import { auditContext, type AccountFlowDeps, type FlowContext } from './account-flow-deps.js';
import { jobContext } from './account-flow-deps.js';
import { AccountJob } from './account-jobs.js';
import { hashLinkToken, isLinkToken } from './account-tokens.js';
import { requireCanonicalEmail } from '../identifiers/email-refused-error.js';
import { assertPasswordAccepted } from './password-errors.js';
import { changeNotice } from './security-notices.js';

const invalidLink = () => new NotFoundError('link_invalid', 'This link is invalid, expired or already used.');

/** Forgotten and changed passwords; either way every other session and refresh token ends. */
/** The second factor a reset must pass when the account has one (a code from an app, or a recovery code). */
export interface ResetSecondFactor {
  hasFactors(accountId: string): Promise<boolean>;
  verify(account: { id: string; email: string }, code: string, context: FlowContext): Promise<boolean>;
}

export function createPasswordResetService(deps: AccountFlowDeps & { rateLimits: RateLimits; secondFactor: ResetSecondFactor }) {
  const { db, hasher, policy, notifier, rateLimits, revokeSessions, links } = deps;
  const now = deps.now ?? (() => new Date());

  async function liveToken(token: string) {
    if (!isLinkToken(token)) return undefined;
    return (await db.repos.accountTokens.findLive(hashLinkToken(token), 'reset_password', now())) ?? undefined;
  }

  /** Sets the password, and queues the "password changed" notice in the same transaction. */
  async function setPassword(
    account: { id: string; email: string }, password: string, type: 'password.reset' | 'password.changed',
    context: FlowContext, consume?: string,
  ) {
    const passwordHash = await hasher.hash(password);
    await db.transaction(async (repos) => {
      if (consume && !(await repos.accountTokens.consume(consume, 'reset_password', now()))) throw invalidLink();
      await repos.accounts.update(account.id, { passwordHash, passwordChangedAt: now() });
      await notifier.sendWithin(repos, 'password-changed', account.email, context.locale,
        changeNotice(context, links, now()),
        { accountId: account.id });
      await repos.audit.append({
        type, actor: `account:${account.id}`, accountId: account.id, ...auditContext(context),
      });
    });
  }

  return {
    /**
     * Queues a reset for the worker, which emails a link when the account exists: the request does
     * the same work (two limits, one INSERT) for every address, so neither the page nor its timing tells.
     */
    async requestReset(input: string, context: FlowContext): Promise<void> {
      const email = requireCanonicalEmail(input).canonical;
      await rateLimits.consume('resetPerIp', context.ip ?? 'unknown');
      await rateLimits.consume('resetPerAccount', email);
      await notifier.enqueueJob(db.repos, AccountJob.passwordResetRequested, { email, context: jobContext(context) });
    },

    /** The account a live reset link belongs to, for the page that asks for the new password. */
    /** Whether the reset page must ask for a second factor too. */
    requiresSecondFactor: (accountId: string) => deps.secondFactor.hasFactors(accountId),

    async accountForLink(token: string) {
      const live = await liveToken(token);
      if (!live) throw invalidLink();
      const account = await db.repos.accounts.findById(live.accountId);
      if (!account || account.disabledAt) throw invalidLink();
      return account;
    },

    /**
     * Sets the new password and spends the link in one transaction, then ends every session and
     * refresh token: whoever knew the old password is out.
     */
    async resetPassword(token: string, password: string, context: FlowContext, secondFactorCode?: string): Promise<void> {
      const account = await this.accountForLink(token);
      assertPasswordAccepted(await policy.check(password, { email: account.email, name: account.name }));
      // A reset link proves the inbox, not the person: an account with a second factor must pass it too.
      if (await deps.secondFactor.hasFactors(account.id)) {
        if (!secondFactorCode) throw new BadRequestError('mfa_required', 'Enter a code from your authenticator app or a recovery code.');
        await rateLimits.consume('mfaPerAccount', account.id);
        if (!(await deps.secondFactor.verify(account, secondFactorCode, context))) throw new BadRequestError('mfa_code_invalid', 'That code is not valid.');
      }
      await setPassword(account, password, 'password.reset', context, hashLinkToken(token));
      await revokeSessions(account.id);
      await db.repos.accountTokens.revokeAll(account.id, 'reset_password', now());
    },

    /** Change with the current password; optionally ends every other session. */
    async changePassword(accountId: string, input: { current: string; password: string; signOutOthers: boolean; currentSessionId?: string }, context: FlowContext): Promise<void> {
      const account = await db.repos.accounts.findById(accountId);
      if (!account || !(await hasher.verify(account.passwordHash, input.current))) {
        throw new BadRequestError('current_password_invalid', 'The current password is incorrect.');
      }
      assertPasswordAccepted(await policy.check(input.password, { email: account.email, name: account.name }));
      await setPassword(account, input.password, 'password.changed', context);
      if (input.signOutOthers) await revokeSessions(account.id, { keepSessionId: input.currentSessionId });
      // Refresh tokens always go: an app holding a grant from before the change must sign in again.
      await deps.revokeRefreshTokens(account.id);
    },
  };
}

export type PasswordResetService = ReturnType<typeof createPasswordResetService>;
