import type { ChangeNotice, NoticeFactorType } from '../email/email-renderer.js';
import type { Database } from '../infra/unit-of-work.js';
import type { Repositories } from '../repositories.js';
import { describeUserAgent } from '../sessions/user-agent.js';
import type { FlowContext } from './account-flow-deps.js';
import type { AccountLinks } from './account-links.js';
import type { AccountNotifier } from './account-notifier.js';

export interface SecurityNoticesDeps {
  db: Database<Repositories>;
  notifier: Pick<AccountNotifier, 'send'>;
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
  const ownerOf = async (accountId: string) => (await db.repos.accounts.findById(accountId))?.email;

  return {
    notice,

    async factorAdded(accountId: string, factorType: NoticeFactorType, context: FlowContext): Promise<void> {
      const to = await ownerOf(accountId);
      if (to) notifier.send('mfa-factor-added', to, context.locale, { factorType, ...notice(context) });
    },

    async factorRemoved(accountId: string, factorType: NoticeFactorType, context: FlowContext): Promise<void> {
      const to = await ownerOf(accountId);
      if (to) notifier.send('mfa-factor-removed', to, context.locale, { factorType, ...notice(context) });
    },

    async recoveryCodesRegenerated(accountId: string, context: FlowContext): Promise<void> {
      const to = await ownerOf(accountId);
      if (to) notifier.send('recovery-codes-regenerated', to, context.locale, notice(context));
    },

    /** A sign-in from a browser without this account's device cookie (config `notifications.newDeviceSignIn`). */
    newDeviceSignIn(email: string, context: FlowContext): void {
      notifier.send('new-device-sign-in', email, context.locale, notice(context));
    },
  };
}

export type SecurityNotices = ReturnType<typeof createSecurityNotices>;
