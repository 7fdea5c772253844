import type { Config } from '../config/schema.js';
import { NotFoundError } from '../errors/app-error.js';
import type { RateLimits } from '../http/rate-limit.js';
import { auditContext, jobContext, type AccountFlowDeps, type FlowContext } from './account-flow-deps.js';
import { AccountJob } from './account-jobs.js';
import type { AccountService } from './account-service.js';
import type { Account } from './account.entity.js';
import { hashLinkToken, isLinkToken, isLiveLink } from './account-tokens.js';
import type { BreachChecker } from './breach-checker.js';
import type { LoginThrottle } from './login-throttle.js';
import { requireCanonicalEmail } from '../identifiers/email-refused-error.js';
import { assertPasswordAccepted } from './password-errors.js';
import { changeNotice } from './security-notices.js';

export type SignInResult =
  | { outcome: 'ok'; account: Account; breached: boolean }
  | { outcome: 'invalid'; captchaRequired: boolean }
  | { outcome: 'captcha_required' }
  | { outcome: 'locked'; retryAfterSeconds: number };

export interface SignInDeps extends AccountFlowDeps {
  accounts: AccountService;
  throttle: LoginThrottle;
  rateLimits: RateLimits;
  lockout: Config['lockout'];
  breachChecker?: BreachChecker;
}

const invalidLink = () => new NotFoundError('link_invalid', 'This link is invalid, expired or already used.');

/**
 * Password sign-in with rate limits, progressive lockout and CAPTCHA escalation. Unknown and known
 * emails take the same path through the throttle, so neither answers nor lockouts reveal accounts.
 */
export function createSignInService(deps: SignInDeps) {
  const { db, accounts, throttle, rateLimits, notifier } = deps;
  const now = deps.now ?? (() => new Date());

  /**
   * The owner of a just-locked account gets one email with an unlock link, from the worker: the
   * throttle locks unknown addresses too, and the request must not show which ones have an owner.
   */
  async function announceLock(email: string, lockSeconds: number | undefined, context: FlowContext): Promise<void> {
    await notifier.enqueueJob(db.repos, AccountJob.accountLockAnnounced,
      { email, lockSeconds: lockSeconds ?? null, context: jobContext(context) });
  }

  return {
    async signIn(input: { email: string; password: string; captchaSolved: boolean }, context: FlowContext): Promise<SignInResult> {
      // Refused before any counter or lookup; every key below is the canonical form, whatever the spelling.
      const email = requireCanonicalEmail(input.email).canonical;
      await rateLimits.consume('loginPerIp', context.ip ?? 'unknown');
      await rateLimits.consume('loginPerAccount', email);
      const check = await throttle.check(email, context.ip ?? 'unknown', { captchaSolved: input.captchaSolved });
      if (check.locked) return { outcome: 'locked', retryAfterSeconds: check.retryAfterSeconds };
      if (check.captchaRequired && !input.captchaSolved) return { outcome: 'captcha_required' };

      const account = await accounts.authenticate(email, input.password, context);
      if (!account) {
        const failure = await throttle.recordFailure(email, context.ip ?? 'unknown');
        if (failure.lockedNow) {
          await announceLock(email, failure.permanent ? undefined : failure.lockSeconds, context);
          return { outcome: 'locked', retryAfterSeconds: failure.lockSeconds ?? deps.lockout.maxSeconds };
        }
        // This failure may be the one that makes the next attempt need a CAPTCHA: show the widget now.
        const captchaRequired = check.captchaRequired || await throttle.captchaRequired(email, context.ip ?? 'unknown');
        return { outcome: 'invalid', captchaRequired };
      }
      await throttle.recordSuccess(email, context.ip ?? 'unknown');
      // NIST SP 800-63B: a password found in a breach corpus since it was set must be replaced.
      const breached = deps.breachChecker ? await deps.breachChecker.isBreached(input.password) : false;
      if (breached) await db.repos.audit.append({ type: 'password.breach_detected', actor: 'system', accountId: account.id, ...auditContext(context) });
      return { outcome: 'ok', account, breached };
    },

    async isUnlockLinkLive(token: string): Promise<boolean> {
      return isLiveLink(db.repos.accountTokens, token, 'unlock', now());
    },

    /** Spends an unlock link: the lock and the failure count are gone. */
    async unlock(token: string, context: FlowContext): Promise<void> {
      if (!isLinkToken(token)) throw invalidLink();
      const account = await db.transaction(async (repos) => {
        const used = await repos.accountTokens.consume(hashLinkToken(token), 'unlock', now());
        if (!used) throw invalidLink();
        await repos.audit.append({ type: 'account.unlocked', actor: `account:${used.accountId}`, accountId: used.accountId, ...auditContext(context), details: { via: 'email_link' } });
        return repos.accounts.findById(used.accountId);
      });
      if (account) await throttle.unlock(account.emailCanonical);
    },

    /** Replaces a breached password during sign-in (the account already proved the old one). */
    async replaceBreachedPassword(accountId: string, password: string, context: FlowContext): Promise<void> {
      const account = await db.repos.accounts.findById(accountId);
      if (!account) throw invalidLink();
      assertPasswordAccepted(await deps.policy.check(password, { email: account.email, name: account.name }));
      const passwordHash = await deps.hasher.hash(password);
      await db.transaction(async (repos) => {
        await repos.accounts.update(account.id, { passwordHash, passwordChangedAt: now() });
        await repos.audit.append({ type: 'password.changed', actor: `account:${account.id}`, accountId: account.id, ...auditContext(context), details: { reason: 'breached' } });
        await notifier.sendWithin(repos, 'password-changed', account.email, context.locale,
          changeNotice(context, deps.links, now()),
          { accountId: account.id });
      });
    },
  };
}

export type SignInService = ReturnType<typeof createSignInService>;
