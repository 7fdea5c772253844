import type { Config } from '../config/schema.js';
import { failClosed, subjectKey, type LimiterFactory } from '../infra/rate-limiter-store.js';
import type { LockoutRecordRepository } from './lockout-record-repository.js';

/** Threshold, lock lengths and NIST budget of one lockout (passwords: `lockout`, second factors: `mfa.lockout`). */
export type LockoutPolicy = Config['lockout'];

/** Whether the next attempt may go ahead; `permanent`: the maxConsecutiveFailures budget is spent. */
export type LockoutGate = { locked: false } | { locked: true; retryAfterSeconds: number; permanent: boolean };

/** What a peek saw: locks so far, consecutive failures (locks × threshold + this round) and the gate. */
export interface LockoutPeek { locks: number; consecutiveFailures: number; gate: LockoutGate }

export interface LockoutFailure { lockedNow: boolean; lockSeconds?: number; permanent?: boolean }

/** Progressive lockout for one purpose, keyed by a subject string (an email, an account id). */
export interface ProgressiveLockout {
  /** Reads the state without reserving anything; restores it from PostgreSQL when Redis lost it. */
  peek(subject: string): Promise<LockoutPeek>;
  /**
   * Reserves one attempt after a peek that was not locked. An open gate counts as a failure until
   * `recordSuccess` follows: always follow it with recordFailure or recordSuccess.
   */
  reserve(subject: string, peeked: LockoutPeek): Promise<LockoutGate>;
  /** After a failed attempt; `lockedNow` is true for exactly one call per lock. */
  recordFailure(subject: string): Promise<LockoutFailure>;
  /** After a success: failures, lock and level start again. */
  recordSuccess(subject: string): Promise<void>;
  /** Lifts a lock (temporary or permanent) and forgets failures and level, in Redis and PostgreSQL. */
  unlock(subject: string): Promise<void>;
}

export interface ProgressiveLockoutDeps {
  factory: LimiterFactory;
  policy: LockoutPolicy;
  /** Counter names are `<counterPrefix>-attempts|level|gate` (passwords keep their historical `lockout`). */
  counterPrefix: string;
  /** How long unlocked failures and, after a lock ends, its level are remembered. Default a day. */
  memorySeconds?: number;
  /**
   * The durable copy of placed locks, when the counters live in Redis: `purpose` names its rows.
   * Without it (counters already in PostgreSQL) nothing more is written.
   */
  durable?: { records: LockoutRecordRepository; purpose: string };
}

/** Marks a placed lock in the attempt counter: above any round limit, still a Postgres int4. */
const BLOCKED = 1_000_000;

/** Seconds the n-th lock (n ≥ 1) lasts: baseSeconds, then × multiplier each time, capped at maxSeconds. */
export function lockSecondsFor(level: number, lockout: LockoutPolicy): number {
  return Math.min(lockout.maxSeconds, Math.ceil(lockout.baseSeconds * lockout.multiplier ** Math.max(0, level - 1)));
}

type Res = { consumedPoints: number; msBeforeNext: number } | null;

/**
 * Progressive lockout (NIST SP 800-63B §5.2.2). Per subject: `attempts` (attempts in the current
 * round, or BLOCKED while locked, expiring with the lock), `level` (locks so far; outlives a lock by
 * memorySeconds, forever once permanent) and `gate` (picks the one caller that places a lock).
 *
 * Concurrency: reserve() takes its attempt with one atomic increment *before* the secret is checked
 * and lets it through only if the returned count is within the round's limit, so of 20 parallel
 * attempts exactly `threshold` are checked. A lock is placed by a failure that finds the round
 * full, once: the `gate` increment returns 1 to one caller only. The placer writes `level` before
 * BLOCKED, so an attempt reading a stale level still meets a full round or BLOCKED.
 *
 * Durability: Redis may restart empty. The placer also upserts (level, locked_until, forget_at)
 * into lockout_records, and a peek that finds no level in Redis reads that row and writes the lock
 * back. The round in progress (fewer than `threshold` failures) is not kept: a flush costs at most
 * one round, never a lock or its level.
 */
export function createProgressiveLockout(deps: ProgressiveLockoutDeps): ProgressiveLockout {
  const { factory, policy, counterPrefix, durable } = deps;
  const memory = deps.memorySeconds ?? 86_400;
  const counter = (name: string, durationSeconds: number) =>
    factory({ name: `${counterPrefix}-${name}`, points: BLOCKED, durationSeconds });
  const attempts = counter('attempts', memory);
  const level = counter('level', memory);
  // Shorter than any lock, so it is gone when the next round can start.
  const gate = counter('gate', Math.min(policy.baseSeconds, policy.maxSeconds));

  const count = (res: Res) => res?.consumedPoints ?? 0;
  const permanentAt = (locks: number) => locks * policy.threshold >= policy.maxConsecutiveFailures;
  /** Attempts allowed this round: the threshold, or what is left of the maxConsecutiveFailures budget. */
  const roundLimit = (locks: number) =>
    Math.min(policy.threshold, policy.maxConsecutiveFailures - locks * policy.threshold);

  function lockedGate(round: { consumedPoints: number; msBeforeNext: number }, locks: number): LockoutGate {
    // BLOCKED: the lock is placed and expires with the key. Below it the round is full and its last
    // failure is being recorded right now, so the lock about to start is the honest wait.
    const placed = round.consumedPoints >= BLOCKED && round.msBeforeNext > 0;
    const seconds = placed ? round.msBeforeNext / 1000 : lockSecondsFor(locks + 1, policy);
    return { locked: true, retryAfterSeconds: Math.max(1, Math.ceil(seconds)), permanent: false };
  }

  /** Writes a durable lock back into Redis; undefined when there is none (or it may be forgotten). */
  async function restore(key: string): Promise<{ levelRes: Res; round: Res } | undefined> {
    if (!durable) return undefined;
    const record = await durable.records.find(durable.purpose, key).catch(failClosed);
    if (!record) return undefined;
    const now = Date.now();
    if (record.forgetAt && record.forgetAt.getTime() <= now) {
      await durable.records.delete(durable.purpose, key).catch(failClosed);
      return undefined;
    }
    const secondsUntil = (at: Date) => Math.max(1, Math.ceil((at.getTime() - now) / 1000));
    await level.set(key, record.level, record.forgetAt ? secondsUntil(record.forgetAt) : 0).catch(failClosed);
    if (!record.lockedUntil) await attempts.set(key, BLOCKED, memory).catch(failClosed);
    else if (record.lockedUntil.getTime() > now) {
      await attempts.set(key, BLOCKED, secondsUntil(record.lockedUntil)).catch(failClosed);
    }
    const [levelRes, round] = await Promise.all([level.get(key), attempts.get(key)]).catch(failClosed);
    return { levelRes, round };
  }

  return {
    async peek(subject) {
      const key = subjectKey(subject);
      let [levelRes, round]: [Res, Res] = await Promise.all([level.get(key), attempts.get(key)]).catch(failClosed);
      // No level in Redis: never locked, or Redis lost it. Only then is PostgreSQL asked.
      if (!levelRes) ({ levelRes, round } = (await restore(key)) ?? { levelRes, round });
      const locks = count(levelRes);
      const consecutiveFailures = locks * policy.threshold + Math.min(count(round), policy.threshold);
      // A permanent lock ignores time, so Retry-After only says "not soon".
      const permanent: LockoutGate = { locked: true, retryAfterSeconds: policy.maxSeconds, permanent: true };
      const gate: LockoutGate = permanentAt(locks) ? permanent
        : round && round.consumedPoints >= roundLimit(locks) ? lockedGate(round, locks) : { locked: false };
      return { locks, consecutiveFailures, gate };
    },

    async reserve(subject, peeked) {
      if (peeked.gate.locked) return peeked.gate;
      const reserved = await attempts.penalty(subjectKey(subject)).catch(failClosed);
      return reserved.consumedPoints > roundLimit(peeked.locks)
        ? lockedGate(reserved, peeked.locks) : { locked: false };
    },

    async recordFailure(subject) {
      const key = subjectKey(subject);
      const [levelRes, round] = await Promise.all([level.get(key), attempts.get(key)]).catch(failClosed);
      const locks = count(levelRes);
      const reserved = count(round);
      // Not full yet (or already locked): nothing to place. An attempt still in flight in a full
      // round may yet succeed — then recordSuccess() lifts this lock, which is the right outcome.
      if (reserved < roundLimit(locks) || reserved >= BLOCKED) return { lockedNow: false };
      if ((await gate.penalty(key).catch(failClosed)).consumedPoints !== 1) return { lockedNow: false };
      const next = locks + 1;
      const permanent = permanentAt(next);
      const lockSeconds = lockSecondsFor(next, policy);
      // The level outlives the lock by `memory`, so the next lock is longer; forever once permanent (duration 0).
      await level.set(key, next, permanent ? 0 : lockSeconds + memory).catch(failClosed);
      await attempts.set(key, BLOCKED, permanent ? memory : lockSeconds).catch(failClosed);
      if (durable) {
        const now = Date.now();
        await durable.records.save(durable.purpose, key, {
          level: next,
          lockedUntil: permanent ? null : new Date(now + lockSeconds * 1000),
          forgetAt: permanent ? null : new Date(now + (lockSeconds + memory) * 1000),
        }).catch(failClosed);
      }
      return permanent ? { lockedNow: true, permanent: true } : { lockedNow: true, lockSeconds, permanent: false };
    },

    // A success follows a peek, which restored any durable lock into Redis: no level there means no
    // live row, so the common sign-in costs no SQL. Forgettable rows left behind are swept.
    async recordSuccess(subject) {
      const key = subjectKey(subject);
      const hadLevel = durable ? (await level.get(key).catch(failClosed)) !== null : false;
      await Promise.all([attempts.delete(key), level.delete(key), gate.delete(key)]).catch(failClosed);
      if (durable && hadLevel) await durable.records.delete(durable.purpose, key).catch(failClosed);
    },

    // The row goes first: a peek racing this unlock then finds nothing to restore once Redis is cleared.
    async unlock(subject) {
      const key = subjectKey(subject);
      if (durable) await durable.records.delete(durable.purpose, key).catch(failClosed);
      await Promise.all([attempts.delete(key), level.delete(key), gate.delete(key)]).catch(failClosed);
    },
  };
}
