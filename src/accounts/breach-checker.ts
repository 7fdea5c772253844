import { createHash } from 'node:crypto';
import type { Logger } from '../infra/logger.js';

export interface BreachChecker {
  /** True when the password appears in the breach corpus; false when it doesn't or the service can't be reached. */
  isBreached(password: string): Promise<boolean>;
}

export interface BreachCheckerDeps {
  /** Pwned Passwords API root, e.g. https://api.pwnedpasswords.com (a self-hosted mirror works too). */
  baseUrl: string;
  timeoutMs: number;
  logger: Pick<Logger, 'warn'>;
  fetch?: typeof fetch;
}

/**
 * The one password normalisation, applied before length checks, breach lookups and hashing.
 * NIST SP 800-63B rev 4 §3.1.1.2: verifiers SHOULD apply NFKC or NFKD to Unicode passwords
 * before hashing, so the same password typed on two keyboards (composed "å" vs "a" + ring,
 * full-width digits) verifies. NFKC, because it is a no-op on ASCII: breach-corpus hashes of
 * ASCII passwords still match, and existing ASCII hashes stay valid.
 */
export function normalisePassword(password: string): string {
  return password.normalize('NFKC');
}

/**
 * Have I Been Pwned range check with k-anonymity: only the first 5 hex characters of the
 * SHA-1 leave the process, and Add-Padding hides the real response size.
 * Fails open with a warning: an outage of a third party must not block sign-up or sign-in,
 * and the zxcvbn dictionary check still stands in front of it.
 * @see https://haveibeenpwned.com/API/v3#SearchingPwnedPasswordsByRange
 */
export function createBreachChecker({ baseUrl, timeoutMs, logger, fetch: fetchImpl = globalThis.fetch }: BreachCheckerDeps): BreachChecker {
  const root = baseUrl.replace(/\/+$/, '');
  return {
    async isBreached(password) {
      const digest = createHash('sha1').update(normalisePassword(password), 'utf8').digest('hex').toUpperCase();
      const prefix = digest.slice(0, 5);
      const suffix = digest.slice(5);
      let body: string;
      try {
        // The signal covers the body read too, so a server that stalls mid-response still times out.
        const response = await fetchImpl(`${root}/range/${prefix}`, {
          headers: { 'Add-Padding': 'true', 'User-Agent': 'Portcullis' },
          signal: AbortSignal.timeout(timeoutMs),
        });
        if (!response.ok) {
          await response.body?.cancel();
          logger.warn({ status: response.status }, 'breached-password check unavailable; password allowed (fail-open)');
          return false;
        }
        body = await response.text();
      } catch (error) {
        const reason = error instanceof Error ? error.name === 'TimeoutError' ? 'timeout' : error.message : String(error);
        logger.warn({ reason }, 'breached-password check unavailable; password allowed (fail-open)');
        return false;
      }
      return rangeContains(body, suffix);
    },
  };
}

/** True when the range response lists `suffix` with a positive count (padding entries have count 0). */
function rangeContains(body: string, suffix: string): boolean {
  for (const line of body.split('\n')) {
    const [candidate, count] = line.trim().split(':');
    if (candidate?.toUpperCase() === suffix && Number.parseInt(count ?? '0', 10) > 0) return true;
  }
  return false;
}
