import { BadRequestError, NotFoundError } from '../errors/app-error.js';
import { emailKey } from '../identifiers/canonical-email.js';
import { requireCanonicalEmail } from '../identifiers/email-refused-error.js';
import { auditContext, type AccountFlowDeps, type FlowContext } from './account-flow-deps.js';
import { hashLinkToken, isLinkToken, isLiveLink, issueLinkToken } from './account-tokens.js';
import { changeNotice } from './security-notices.js';

const invalidLink = () => new NotFoundError('link_invalid', 'This link is invalid, expired or already used.');

/**
 * Changing the address needs the current password, and takes effect only when the new address
 * is confirmed from its own inbox; the old address is told afterwards, and the new one confirmed.
 */
export function createEmailChangeService(deps: AccountFlowDeps) {
  const { db, hasher, notifier, links, settings } = deps;
  const now = deps.now ?? (() => new Date());

  return {
    async requestChange(accountId: string, input: { newEmail: string; password: string }, context: FlowContext): Promise<void> {
      const { canonical, display: newEmail } = requireCanonicalEmail(input.newEmail);
      const account = await db.repos.accounts.findById(accountId);
      if (!account || !(await hasher.verify(account.passwordHash, input.password))) {
        throw new BadRequestError('current_password_invalid', 'The current password is incorrect.');
      }
      if (canonical === account.emailCanonical) throw new BadRequestError('email_unchanged', 'That is already your email address.');
      // A taken address gets the owner's notice instead of a link, and this page says the same thing.
      const owner = await db.repos.accounts.findByEmail(canonical);
      if (owner) {
        notifier.send('account-exists', owner.email, context.locale, { loginLink: links.account(), resetLink: links.forgotPassword() });
        return;
      }
      const token = await db.transaction(async (repos) => {
        const issued = await issueLinkToken(repos.accountTokens, { accountId: account.id, purpose: 'change_email', email: newEmail, ttlSeconds: settings.emailChangeTtl, now: now() });
        await repos.audit.append({ type: 'email.change_requested', actor: `account:${account.id}`, accountId: account.id, ...auditContext(context), details: { newEmail: canonical } });
        return issued;
      });
      notifier.send('change-email-verify', newEmail, context.locale, { link: links.confirmEmailChange(token), newEmail, expiresHours: Math.round(settings.emailChangeTtl / 3600) });
    },

    async isLive(token: string): Promise<boolean> {
      return isLiveLink(db.repos.accountTokens, token, 'change_email', now());
    },

    /** Applies the change: the new address is verified by this very link. */
    async confirm(token: string, context: FlowContext): Promise<{ newEmail: string }> {
      if (!isLinkToken(token)) throw invalidLink();
      const { oldEmail, newEmail } = await db.transaction(async (repos) => {
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
        return { oldEmail: account.email, newEmail: used.email };
      });
      // The old address learns where the account went; the new one, that it now receives its mail.
      const notice = changeNotice(context, links, now());
      notifier.send('email-changed', oldEmail, context.locale, { newEmail, ...notice });
      notifier.send('email-change-confirmed', newEmail, context.locale, { newEmail, ...notice });
      return { newEmail };
    },
  };
}

export type EmailChangeService = ReturnType<typeof createEmailChangeService>;
