import { BadRequestError, NotFoundError } from '../errors/app-error.js';
import { emailKey } from '../identifiers/canonical-email.js';
import { requireCanonicalEmail } from '../identifiers/email-refused-error.js';
import { auditContext, jobContext, type AccountFlowDeps, type FlowContext } from './account-flow-deps.js';
import { AccountJob } from './account-jobs.js';
import { hashLinkToken, isLinkToken, isLiveLink } from './account-tokens.js';
import { changeNotice } from './security-notices.js';

const invalidLink = () => new NotFoundError('link_invalid', 'This link is invalid, expired or already used.');

/**
 * Changing the address needs the current password, and takes effect only when the new address
 * is confirmed from its own inbox; the old address is told afterwards, and the new one confirmed.
 */
export function createEmailChangeService(deps: AccountFlowDeps) {
  const { db, hasher, notifier, links } = deps;
  const now = deps.now ?? (() => new Date());

  return {
    async requestChange(accountId: string, input: { newEmail: string; password: string }, context: FlowContext): Promise<void> {
      const { canonical, display: newEmail } = requireCanonicalEmail(input.newEmail);
      const account = await db.repos.accounts.findById(accountId);
      if (!account || !(await hasher.verify(account.passwordHash, input.password))) {
        throw new BadRequestError('current_password_invalid', 'The current password is incorrect.');
      }
      if (canonical === account.emailCanonical) {
        throw new BadRequestError('email_unchanged', 'That is already your email address.');
      }
      // Taken or free, the request queues one job: the worker mails the link, or the owner's notice instead.
      await notifier.enqueueJob(db.repos, AccountJob.emailChangeRequested,
        { accountId: account.id, newEmail, context: jobContext(context) }, { accountId: account.id });
    },

    async isLive(token: string): Promise<boolean> {
      return isLiveLink(db.repos.accountTokens, token, 'change_email', now());
    },

    /** Applies the change: the new address is verified by this very link. */
    async confirm(token: string, context: FlowContext): Promise<{ newEmail: string }> {
      if (!isLinkToken(token)) throw invalidLink();
      const { newEmail } = await db.transaction(async (repos) => {
        const used = await repos.accountTokens.consume(hashLinkToken(token), 'change_email', now());
        if (!used) throw invalidLink();
        const account = await repos.accounts.findById(used.accountId);
        if (!account) throw invalidLink();
        // The unique index answers a race with another sign-up for the same address.
        await repos.accounts.updateEmail(account.id, used.email);
        await repos.audit.append({
          type: 'email.changed', actor: `account:${account.id}`, accountId: account.id, ...auditContext(context),
          details: { before: account.emailCanonical, after: emailKey(used.email) ?? used.email },
        });
        // The old address learns where the account went, the new one that it now receives its mail,
        // both in the same transaction: no change without its notices.
        const notice = changeNotice(context, links, now());
        await notifier.sendWithin(repos, 'email-changed', account.email, context.locale,
          { newEmail: used.email, ...notice }, { accountId: account.id });
        await notifier.sendWithin(repos, 'email-change-confirmed', used.email, context.locale,
          { newEmail: used.email, ...notice }, { accountId: account.id });
        return { newEmail: used.email };
      });
      return { newEmail };
    },
  };
}

export type EmailChangeService = ReturnType<typeof createEmailChangeService>;
