import { NotFoundError } from '../errors/app-error.js';
import type { RateLimits } from '../http/rate-limit.js';
import { emailKey } from '../identifiers/canonical-email.js';
import { requireCanonicalEmail } from '../identifiers/email-refused-error.js';
import { auditContext, jobContext, type AccountFlowDeps, type FlowContext } from './account-flow-deps.js';
import { AccountJob } from './account-jobs.js';
import { hashLinkToken, isLinkToken, isLiveLink } from './account-tokens.js';

const invalidLink = () => new NotFoundError('link_invalid', 'This link is invalid, expired or already used.');

/** Proves control of an address with a single-use, time-limited link (stored hashed). */
export function createEmailVerificationService(deps: AccountFlowDeps & { rateLimits: RateLimits }) {
  const { db, notifier, rateLimits } = deps;
  const now = deps.now ?? (() => new Date());

  return {
    /** Whether the link is live, without using it (a mail scanner's GET must not spend it). */
    async isLive(token: string): Promise<boolean> {
      return isLiveLink(db.repos.accountTokens, token, 'verify_email', now());
    },

    async verify(token: string, context: FlowContext): Promise<void> {
      if (!isLinkToken(token)) throw invalidLink();
      await db.transaction(async (repos) => {
        const used = await repos.accountTokens.consume(hashLinkToken(token), 'verify_email', now());
        if (!used) throw invalidLink();
        const account = await repos.accounts.findById(used.accountId);
        // The address changed since the link was sent: it proves nothing about the current one.
        if (!account || emailKey(used.email) !== account.emailCanonical) throw invalidLink();
        await repos.accounts.update(account.id, { emailVerified: true });
        await repos.audit.append({ type: 'email.verified', actor: `account:${account.id}`, accountId: account.id, ...auditContext(context) });
      });
    },

    /**
     * Queues a fresh link for the worker, which sends it when the address has an unverified
     * account: the request costs the same for every address. An address with no canonical form is
     * refused before any counter.
     */
    async resend(input: string, context: FlowContext & { returnTo?: string }): Promise<void> {
      const email = requireCanonicalEmail(input).canonical;
      await rateLimits.consume('resendPerIp', context.ip ?? 'unknown');
      await rateLimits.consume('resendPerAccount', email);
      await notifier.enqueueJob(db.repos, AccountJob.verificationResendRequested,
        { email, returnTo: context.returnTo, context: jobContext(context) });
    },
  };
}

export type EmailVerificationService = ReturnType<typeof createEmailVerificationService>;
