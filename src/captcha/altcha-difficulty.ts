import type { LoginThrottle } from '../accounts/login-throttle.js';
import type { Config } from '../config/schema.js';

type DifficultyConfig = Pick<Config['captcha'],
  'altchaMaxNumber' | 'altchaGrowth' | 'altchaMaxNumberCap' | 'loginFailuresBeforeCaptcha'>;

/**
 * The altcha work (challenge maxNumber; a solver tries maxNumber / 2 hashes on average) after
 * `failures`: the base up to the failure that first asks for a CAPTCHA, then × altchaGrowth per
 * further failure, capped at altchaMaxNumberCap so an honest phone still finishes in seconds.
 */
export function altchaMaxNumberFor(failures: number, config: DifficultyConfig): number {
  const beyond = Math.max(0, failures - config.loginFailuresBeforeCaptcha);
  const cap = Math.max(config.altchaMaxNumber, config.altchaMaxNumberCap);
  return Math.min(cap, Math.ceil(config.altchaMaxNumber * config.altchaGrowth ** Math.min(beyond, 64)));
}

/** Adaptive altcha difficulty: the more sign-ins failed for an email or from an IP, the more work a challenge asks. */
export interface AltchaDifficulty {
  /** The work the next sign-in for `email` from `ip` must have proven (no email: the IP alone). */
  required(email: string | undefined, ip: string): Promise<number>;
}

/** Reads the login throttle's failure counts; reserves nothing. */
export function createAltchaDifficulty(
  deps: { throttle: Pick<LoginThrottle, 'failureCount'>; config: DifficultyConfig },
): AltchaDifficulty {
  return {
    async required(email, ip) {
      return altchaMaxNumberFor(await deps.throttle.failureCount(email?.trim() || undefined, ip), deps.config);
    },
  };
}
