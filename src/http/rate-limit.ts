import type { Config, RateLimitName } from '../config/schema.js';
import { TooManyRequestsError } from '../errors/app-error.js';
import { failClosed, isRateLimited, subjectKey, type LimiterFactory, type RateLimiter } from '../infra/rate-limiter-store.js';

export interface RateLimits {
  /** Counts one request for `key` (an IP or an email) under `name`; throws TooManyRequestsError when over the limit. */
  consume(name: RateLimitName, key: string): Promise<void>;
}

/** One shared-store limiter per configured limit (per-IP and per-account; login, registration, resend, reset). */
export function createRateLimits(factory: LimiterFactory, limits: Config['rateLimits']): RateLimits {
  const limiters = new Map<string, RateLimiter>();
  for (const [name, { points, durationSeconds }] of Object.entries(limits)) {
    limiters.set(name, factory({ name, points, durationSeconds }));
  }
  return {
    async consume(name, key) {
      const limiter = limiters.get(name);
      if (!limiter) throw new Error(`unknown rate limit "${name}"`);
      try {
        // Atomic increment in the store (Lua INCRBY / INSERT … ON CONFLICT), so parallel requests can't overshoot.
        await limiter.consume(subjectKey(key));
      } catch (error) {
        if (isRateLimited(error)) throw new TooManyRequestsError(error.msBeforeNext / 1000);
        failClosed(error);
      }
    },
  };
}
