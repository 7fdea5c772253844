import type { ChangeNotice, NoticeFactorType } from '../email/email-renderer.js';
import type { Database } from '../infra/unit-of-work.js';
import type { Repositories } from '../repositories.js';
import { describeUserAgent } from '../sessions/user-agent.js';
import type { FlowContext } from './account-flow-deps.js';
import type { AccountLinks } from './account-links.js';
import type { AccountNotifier } from './account-notifier.js';

/** What queuing a notice inside a change's transaction needs: the owner's address and the outbox. */
export type NoticeRepos = Pick<Repositories, 'accounts' | 'audit' | 'outbox'>;

export interface SecurityNoticesDeps {
  db: Database<Repositories>;
  notifier: Pick<AccountNotifier, 'send' | 'sendWithin'>;
  links: Pick<AccountLinks, 'security'>;
  now?: () => Date;
}

/** "3 December 2026 at 14:05 UTC" in the reader's language: one zone for every reader, named. */
function formatWhen(at: Date, locale: string): string {
  const format = new Intl.DateTimeFormat(locale, { dateStyle: 'long', timeStyle: 'short', timeZone: 'UTC' });
  return `${format.format(at)} UTC`;
}

/** When and from where a change was made, coarse enough to mail: browser + OS, never the raw User-Agent. */
export function changeNotice(context: FlowContext, links: Pick<AccountLinks, 'security'>, at: Date): ChangeNotice {
  const { browser, os } = describeUserAgent(context.userAgent);
  return { when: formatWhen(at, context.locale), ip: context.ip ?? null, browser, os, securityLink: links.security() };
}

/**
 * Tells the owner about every change to how the account signs in (NIST SP 800-63B §6.1.2.2: a
 * binding event notifies the subscriber), so a change they didn't make doesn't go unseen. The
 * notices name the kind of change, never a code or a secret.
 */
export function createSecurityNotices(deps: SecurityNoticesDeps) {
  const { db, notifier, links } = deps;
  const now = deps.now ?? (() => new Date());
  const notice = (context: FlowContext) => changeNotice(context, links, now());
  const ownerOf = async (repos: NoticeRepos, accountId: string) => (await repos.accounts.findById(accountId))?.email;

  // Each credential notice is queued in the transaction of the change it reports (`repos`): no change
  // commits without its notice, and a rolled-back change sends none.
  return {
    notice,

    async factorAdded(repos: NoticeRepos, accountId: string, factorType: NoticeFactorType, context: FlowContext) {
      const to = await ownerOf(repos, accountId);
      const locals = { factorType, ...notice(context) };
      if (to) await notifier.sendWithin(repos, 'mfa-factor-added', to, context.locale, locals, { accountId });
    },

    async factorRemoved(repos: NoticeRepos, accountId: string, factorType: NoticeFactorType, context: FlowContext) {
      const to = await ownerOf(repos, accountId);
      const locals = { factorType, ...notice(context) };
      if (to) await notifier.sendWithin(repos, 'mfa-factor-removed', to, context.locale, locals, { accountId });
    },

    async recoveryCodesRegenerated(repos: NoticeRepos, accountId: string, context: FlowContext): Promise<void> {
      const to = await ownerOf(repos, accountId);
      if (!to) return;
      await notifier.sendWithin(repos, 'recovery-codes-regenerated', to, context.locale, notice(context),
        { accountId });
    },

    /** A sign-in from a browser without this account's device cookie (config `notifications.newDeviceSignIn`). */
    newDeviceSignIn(email: string, context: FlowContext): void {
      notifier.send('new-device-sign-in', email, context.locale, notice(context));
    },
  };
}

export type SecurityNotices = ReturnType<typeof createSecurityNotices>;
