import type { Config } from '../config/schema.js';
import type { DataSource } from '../infra/data-source.js';
import { createLimiterFactory, failClosed, subjectKey, type LimiterFactory } from '../infra/rate-limiter-store.js';
import type { RedisClient } from '../infra/redis.js';
import { createLockoutRecordRepository, type LockoutRecordRepository } from './lockout-record-repository.js';
import { createProgressiveLockout, type LockoutPeek } from './progressive-lockout.js';

export { lockSecondsFor } from './progressive-lockout.js';

export type LoginCheck =
  | { locked: false; captchaRequired: boolean }
  /** `permanent`: NIST's 100-failure budget is spent; only the unlock link or `users unlock` lifts it. */
  | { locked: true; retryAfterSeconds: number; captchaRequired: boolean; permanent: boolean };

export interface LoginFailure { lockedNow: boolean; lockSeconds?: number; permanent?: boolean }

export interface LoginThrottle {
  /**
   * Call before verifying the password. An answer with `locked: false` reserves one attempt, which
   * counts as a failure unless `recordSuccess` follows: always follow it with recordFailure or
   * recordSuccess. Pass `captchaSolved: false` when the form carried no valid CAPTCHA: if one is
   * required nothing is reserved, and the caller must re-ask for it without checking the password.
   */
  check(email: string, ip: string, options?: { captchaSolved?: boolean }): Promise<LoginCheck>;
  /** After a wrong password (or unknown email); `lockedNow` is true for exactly one call per lock. */
  recordFailure(email: string, ip: string): Promise<LoginFailure>;
  /** After a right password: consecutive failures and the lock level start again (the IP count doesn't). */
  recordSuccess(email: string, ip: string): Promise<void>;
  /** Lifts a lock (temporary or permanent) and forgets the failures and the lock level. */
  unlock(email: string): Promise<void>;
  /** Whether the next attempt for this email or from this IP must carry a CAPTCHA; reserves nothing. */
  captchaRequired(email: string, ip: string): Promise<boolean>;
  /** The larger of the email's consecutive failures and the IP's recent ones (no email: the IP's); reserves nothing. */
  failureCount(email: string | undefined, ip: string): Promise<number>;
}

export interface LoginThrottleDeps {
  factory: LimiterFactory;
  lockout: Config['lockout'];
  /** Failures (by email or by IP) after which the form asks for a CAPTCHA; 0 = always. */
  captchaAfter: number;
  /** How long unlocked failures and, after a lock ends, its level are remembered. Default a day. */
  failureMemorySeconds?: number;
  /** "Recent" for the per-IP CAPTCHA count. Default an hour. */
  ipWindowSeconds?: number;
  /** The durable copy of placed locks; give it when the factory counts in Redis. */
  records?: LockoutRecordRepository;
}

/**
 * Progressive account lockout (NIST SP 800-63B §5.2.2) keyed by the normalised email only, so an
 * unknown email behaves exactly like a known one: the shared progressive-lockout primitive
 * (purpose `login`, counters `lockout-*`), plus a per-IP failure count for CAPTCHA escalation.
 * See progressive-lockout.ts for the concurrency and durability guarantees.
 */
export function createLoginThrottle(deps: LoginThrottleDeps): LoginThrottle {
  const { factory, lockout, captchaAfter } = deps;
  const locks = createProgressiveLockout({
    factory, policy: lockout, counterPrefix: 'lockout', memorySeconds: deps.failureMemorySeconds,
    durable: deps.records ? { records: deps.records, purpose: 'login' } : undefined,
  });
  const ipFailures = factory({
    name: 'login-failures-ip', points: 1_000_000, durationSeconds: deps.ipWindowSeconds ?? 3600,
  });
  const ipCount = async (ip: string) => (await ipFailures.get(subjectKey(ip)).catch(failClosed))?.consumedPoints ?? 0;
  /** Consecutive failures by email (locks so far plus this round) or recent failures by IP reached captchaAfter. */
  const needsCaptcha = (peeked: LockoutPeek, fromIp: number) =>
    peeked.consecutiveFailures >= captchaAfter || fromIp >= captchaAfter;

  return {
    async check(email, ip, options = {}) {
      const [peeked, fromIp] = await Promise.all([locks.peek(email), ipCount(ip)]);
      const captchaRequired = needsCaptcha(peeked, fromIp);
      if (peeked.gate.locked) return { ...peeked.gate, captchaRequired };
      if (captchaRequired && options.captchaSolved === false) return { locked: false, captchaRequired };
      const gate = await locks.reserve(email, peeked);
      return gate.locked ? { ...gate, captchaRequired } : { locked: false, captchaRequired };
    },

    async recordFailure(email, ip) {
      const ipPenalty = ipFailures.penalty(subjectKey(ip)).catch(failClosed);
      const [, failure] = await Promise.all([ipPenalty, locks.recordFailure(email)]);
      return failure;
    },

    // The IP count is left alone: an attacker must not clear it by signing in to an account of their own.
    recordSuccess: (email) => locks.recordSuccess(email),
    unlock: (email) => locks.unlock(email),

    async captchaRequired(email, ip) {
      const [peeked, fromIp] = await Promise.all([locks.peek(email), ipCount(ip)]);
      return needsCaptcha(peeked, fromIp);
    },

    async failureCount(email, ip) {
      const [peeked, fromIp] = await Promise.all([email ? locks.peek(email) : undefined, ipCount(ip)]);
      return Math.max(peeked?.consecutiveFailures ?? 0, fromIp);
    },
  };
}

/** The login throttle over a container's stores; the CLI and the server must both use it so they share keys. */
export function createLoginThrottleFor(deps: { redis?: RedisClient; dataSource: DataSource; config: Pick<Config, 'lockout' | 'captcha'> }): LoginThrottle {
  return createLoginThrottle({
    factory: createLimiterFactory({ redis: deps.redis, dataSource: deps.dataSource }),
    lockout: deps.config.lockout,
    captchaAfter: deps.config.captcha.loginFailuresBeforeCaptcha,
    // Counters in PostgreSQL are durable already; counters in Redis get a durable copy of each lock.
    records: deps.redis ? createLockoutRecordRepository(deps.dataSource) : undefined,
  });
}
