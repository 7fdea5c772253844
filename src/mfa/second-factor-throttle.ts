import { createLockoutRecordRepository } from '../accounts/lockout-record-repository.js';
import {
  createProgressiveLockout, type LockoutFailure, type LockoutGate, type LockoutPolicy,
} from '../accounts/progressive-lockout.js';
import type { Config } from '../config/schema.js';
import type { DataSource } from '../infra/data-source.js';
import { createLimiterFactory, type LimiterFactory } from '../infra/rate-limiter-store.js';
import type { RedisClient } from '../infra/redis.js';

/**
 * The one lockout every second-factor check shares (TOTP, email/SMS codes, recovery codes, passkeys
 * as a second factor, the code a password reset asks for), keyed by account id: the password
 * lockout's primitive with its own counters (`mfa-lockout-*`) and its own policy (`mfa.lockout`).
 */
export interface SecondFactorThrottle {
  /** Reserves one attempt unless locked; follow an open gate with recordFailure or recordSuccess. */
  check(accountId: string): Promise<LockoutGate>;
  /** Whether the factor step is locked now; reserves nothing. */
  peek(accountId: string): Promise<LockoutGate>;
  recordFailure(accountId: string): Promise<LockoutFailure>;
  recordSuccess(accountId: string): Promise<void>;
  /** Lifts a second-factor lock (temporary or permanent): `users unlock`. */
  unlock(accountId: string): Promise<void>;
}

export interface SecondFactorThrottleDeps {
  factory: LimiterFactory;
  policy: LockoutPolicy;
  /** Give it when the factory counts in Redis, so a Redis flush never lifts a lock. */
  records?: ReturnType<typeof createLockoutRecordRepository>;
}

/** The second-factor lockout over a limiter factory. */
export function createSecondFactorThrottle(deps: SecondFactorThrottleDeps): SecondFactorThrottle {
  const locks = createProgressiveLockout({
    factory: deps.factory, policy: deps.policy, counterPrefix: 'mfa-lockout',
    durable: deps.records ? { records: deps.records, purpose: 'mfa' } : undefined,
  });
  return {
    async check(accountId) {
      return locks.reserve(accountId, await locks.peek(accountId));
    },
    peek: async (accountId) => (await locks.peek(accountId)).gate,
    recordFailure: (accountId) => locks.recordFailure(accountId),
    recordSuccess: (accountId) => locks.recordSuccess(accountId),
    unlock: (accountId) => locks.unlock(accountId),
  };
}

/** The second-factor throttle over a container's stores; the CLI and the server must both use it so they share keys. */
export function createSecondFactorThrottleFor(
  deps: { redis?: RedisClient; dataSource: DataSource; config: Pick<Config, 'mfa'> },
): SecondFactorThrottle {
  return createSecondFactorThrottle({
    factory: createLimiterFactory({ redis: deps.redis, dataSource: deps.dataSource }),
    policy: deps.config.mfa.lockout,
    records: deps.redis ? createLockoutRecordRepository(deps.dataSource) : undefined,
  });
}
