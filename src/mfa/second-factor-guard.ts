import { auditContext, type FlowContext } from '../accounts/account-flow-deps.js';
import type { AccountLinks } from '../accounts/account-links.js';
import type { AccountNotifier } from '../accounts/account-notifier.js';
import type { LockoutPolicy } from '../accounts/progressive-lockout.js';
import { AppError, TooManyRequestsError } from '../errors/app-error.js';
import type { Database } from '../infra/unit-of-work.js';
import type { Repositories } from '../repositories.js';
import type { SecondFactorThrottle } from './second-factor-throttle.js';

/** 429: the second-factor step of this account is locked; pages show "too many wrong codes". */
export class SecondFactorLockedError extends TooManyRequestsError {
  constructor(retryAfterSeconds: number, readonly permanent: boolean) {
    super(retryAfterSeconds, 'Too many wrong codes. Try again later.');
  }
}

export interface SecondFactorGuardDeps {
  throttle: SecondFactorThrottle;
  db: Database<Pick<Repositories, 'audit'>>;
  notifier: Pick<AccountNotifier, 'send'>;
  links: Pick<AccountLinks, 'forgotPassword'>;
  policy: LockoutPolicy;
}

/** Which check a guarded attempt is, for the audit row of a lock. */
export type SecondFactorKind = 'totp' | 'otp' | 'recovery' | 'webauthn' | 'reset_code';

/** A failure of the check itself (wrong code, bad assertion), not of a dependency: it counts. */
const countsAsFailure = (error: unknown) => error instanceof AppError && error.status < 500;

/**
 * Runs every second-factor verification under the one second-factor lockout. Locking means the
 * password was right (or a reset link was spent) and the second factor is being guessed, so the
 * owner is told at once, with a link to change the password; the lock is audited as `mfa.locked`.
 */
export function createSecondFactorGuard(deps: SecondFactorGuardDeps) {
  const { throttle, db, notifier, links, policy } = deps;

  type Owner = { id: string; email: string };

  async function announce(account: Owner, kind: SecondFactorKind, lockSeconds: number | undefined, ctx: FlowContext) {
    const permanent = lockSeconds === undefined;
    await db.repos.audit.append({
      type: 'mfa.locked', actor: 'system', accountId: account.id, ...auditContext(ctx),
      details: { factorType: kind, lockSeconds: lockSeconds ?? null, permanent },
    });
    notifier.send('mfa-locked', account.email, ctx.locale, {
      lockedMinutes: Math.ceil((lockSeconds ?? policy.maxSeconds) / 60), permanent, resetLink: links.forgotPassword(),
    });
  }

  /** Counts a failure; throws SecondFactorLockedError when it placed the lock. */
  async function failed(account: Owner, kind: SecondFactorKind, context: FlowContext): Promise<void> {
    const failure = await throttle.recordFailure(account.id);
    if (!failure.lockedNow) return;
    const lockSeconds = failure.permanent ? undefined : failure.lockSeconds;
    await announce(account, kind, lockSeconds, context);
    throw new SecondFactorLockedError(lockSeconds ?? policy.maxSeconds, !!failure.permanent);
  }

  return {
    /**
     * One guarded check: throws SecondFactorLockedError when the step is locked (before, or by this
     * failure); otherwise `verify`'s answer. A 4xx thrown by `verify` counts as a failure and is rethrown.
     */
    async attempt(account: Owner, kind: SecondFactorKind, context: FlowContext, verify: () => Promise<boolean>) {
      const gate = await throttle.check(account.id);
      if (gate.locked) throw new SecondFactorLockedError(gate.retryAfterSeconds, gate.permanent);
      let ok: boolean;
      try {
        ok = await verify();
      } catch (error) {
        if (countsAsFailure(error)) await failed(account, kind, context);
        throw error;
      }
      if (ok) await throttle.recordSuccess(account.id);
      else await failed(account, kind, context);
      return ok;
    },
    /** Whether the account's second-factor step is locked now (reserves nothing). */
    locked: (accountId: string) => throttle.peek(accountId),
  };
}

export type SecondFactorGuard = ReturnType<typeof createSecondFactorGuard>;
