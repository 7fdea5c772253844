import type { Config } from '../config/schema.js';
import type { DataSource } from '../infra/data-source.js';
import { createLimiterFactory, failClosed, subjectKey, type LimiterFactory } from '../infra/rate-limiter-store.js';
import type { RedisClient } from '../infra/redis.js';

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
}

/** Marks a placed lock in the attempt counter: above any round limit, still a Postgres int4. */
const BLOCKED = 1_000_000;

/** Seconds the n-th lock (n ≥ 1) lasts: baseSeconds, then × multiplier each time, capped at maxSeconds. */
export function lockSecondsFor(level: number, lockout: Config['lockout']): number {
  return Math.min(lockout.maxSeconds, Math.ceil(lockout.baseSeconds * lockout.multiplier ** Math.max(0, level - 1)));
}

/**
 * Progressive account lockout (NIST SP 800-63B §5.2.2) keyed by the normalised email only, so an
 * unknown email behaves exactly like a known one. Per email: `attempts` (attempts in the current
 * round, or BLOCKED while locked, expiring with the lock), `level` (locks so far; outlives a lock by
 * failureMemorySeconds, forever once permanent) and `gate` (picks the one caller that places a lock).
 *
 * Concurrency: check() reserves its attempt with one atomic increment (Redis Lua INCRBY, Postgres
 * INSERT … ON CONFLICT DO UPDATE … RETURNING) *before* the password is verified, and lets it through
 * only if the returned count is within the round's limit. The store hands out each count once, so
 * of 20 parallel attempts exactly `threshold` are verified and the rest are refused as locked —
 * a verification can't start on a count the store didn't grant. A lock is placed by a failure that
 * finds the round full, once: the `gate` increment returns 1 to one caller only. The placer writes
 * `level` before BLOCKED, so an attempt reading a stale level still meets a full round or BLOCKED.
 */
export function createLoginThrottle(deps: LoginThrottleDeps): LoginThrottle {
  const { factory, lockout, captchaAfter } = deps;
  const memory = deps.failureMemorySeconds ?? 86_400;
  const counter = (name: string, durationSeconds: number) => factory({ name, points: BLOCKED, durationSeconds });
  const attempts = counter('lockout-attempts', memory);
  const level = counter('lockout-level', memory);
  // Shorter than any lock, so it is gone when the next round can start.
  const gate = counter('lockout-gate', Math.min(lockout.baseSeconds, lockout.maxSeconds));
  const ipFailures = counter('login-failures-ip', deps.ipWindowSeconds ?? 3600);

  const permanentAt = (locks: number) => locks * lockout.threshold >= lockout.maxConsecutiveFailures;
  /** Attempts allowed this round: the threshold, or what is left of the maxConsecutiveFailures budget. */
  const roundLimit = (locks: number) => Math.min(lockout.threshold, lockout.maxConsecutiveFailures - locks * lockout.threshold);
  const count = (res: { consumedPoints: number } | null) => res?.consumedPoints ?? 0;
  /** Consecutive failures by email (locks so far plus this round) or recent failures by IP reached captchaAfter. */
  const needsCaptcha = (locks: number, round: { consumedPoints: number } | null, ipRes: { consumedPoints: number } | null) =>
    locks * lockout.threshold + Math.min(count(round), lockout.threshold) >= captchaAfter || count(ipRes) >= captchaAfter;

  function lockedAnswer(round: { consumedPoints: number; msBeforeNext: number }, locks: number, captchaRequired: boolean): LoginCheck {
    // BLOCKED: the lock is placed and expires with the key. Below it the round is full and its last
    // failure is being recorded right now, so the lock about to start is the honest wait.
    const placed = round.consumedPoints >= BLOCKED && round.msBeforeNext > 0;
    const seconds = placed ? round.msBeforeNext / 1000 : lockSecondsFor(locks + 1, lockout);
    return { locked: true, retryAfterSeconds: Math.max(1, Math.ceil(seconds)), captchaRequired, permanent: false };
  }

  async function forget(email: string): Promise<void> {
    const key = subjectKey(email);
    await Promise.all([attempts.delete(key), level.delete(key), gate.delete(key)]).catch(failClosed);
  }

  return {
    async check(email, ip, options = {}) {
      const key = subjectKey(email);
      const [levelRes, before, ipRes] = await Promise.all([level.get(key), attempts.get(key), ipFailures.get(subjectKey(ip))]).catch(failClosed);
      const locks = count(levelRes);
      const captchaRequired = needsCaptcha(locks, before, ipRes);
      // A permanent lock ignores time, so Retry-After only says "not soon".
      if (permanentAt(locks)) return { locked: true, retryAfterSeconds: lockout.maxSeconds, captchaRequired, permanent: true };
      const limit = roundLimit(locks);
      if (before && before.consumedPoints >= limit) return lockedAnswer(before, locks, captchaRequired);
      if (captchaRequired && options.captchaSolved === false) return { locked: false, captchaRequired };
      const reserved = await attempts.penalty(key).catch(failClosed);
      if (reserved.consumedPoints > limit) return lockedAnswer(reserved, locks, captchaRequired);
      return { locked: false, captchaRequired };
    },

    async recordFailure(email, ip) {
      const key = subjectKey(email);
      const [, levelRes, round] = await Promise.all([ipFailures.penalty(subjectKey(ip)), level.get(key), attempts.get(key)]).catch(failClosed);
      const locks = count(levelRes);
      const reserved = count(round);
      // Not full yet (or already locked): nothing to place. An attempt still in flight in a full
      // round may yet succeed — then recordSuccess lifts this lock, which is the right outcome.
      if (reserved < roundLimit(locks) || reserved >= BLOCKED) return { lockedNow: false };
      if ((await gate.penalty(key).catch(failClosed)).consumedPoints !== 1) return { lockedNow: false };
      const next = locks + 1;
      const permanent = permanentAt(next);
      const lockSeconds = lockSecondsFor(next, lockout);
      // The level outlives the lock by `memory`, so the next lock is longer; forever once permanent (duration 0).
      await level.set(key, next, permanent ? 0 : lockSeconds + memory).catch(failClosed);
      await attempts.set(key, BLOCKED, permanent ? memory : lockSeconds).catch(failClosed);
      return permanent ? { lockedNow: true, permanent: true } : { lockedNow: true, lockSeconds, permanent: false };
    },

    // The IP count is left alone: an attacker must not clear it by signing in to an account of their own.
    recordSuccess: (email) => forget(email),
    unlock: (email) => forget(email),

    async captchaRequired(email, ip) {
      const key = subjectKey(email);
      const [levelRes, round, ipRes] = await Promise.all([level.get(key), attempts.get(key), ipFailures.get(subjectKey(ip))]).catch(failClosed);
      return needsCaptcha(count(levelRes), round, ipRes);
    },
  };
}

/** The login throttle over a container's stores; the CLI and the server must both use it so they share keys. */
export function createLoginThrottleFor(deps: { redis?: RedisClient; dataSource: DataSource; config: Pick<Config, 'lockout' | 'captcha'> }): LoginThrottle {
  return createLoginThrottle({
    factory: createLimiterFactory({ redis: deps.redis, dataSource: deps.dataSource }),
    lockout: deps.config.lockout,
    captchaAfter: deps.config.captcha.loginFailuresBeforeCaptcha,
  });
}
