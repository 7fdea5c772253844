import { ZxcvbnFactory } from '@zxcvbn-ts/core';
import * as zxcvbnCommon from '@zxcvbn-ts/language-common';
import * as zxcvbnEn from '@zxcvbn-ts/language-en';
import type { Config } from '../config/schema.js';
import { normalisePassword, type BreachChecker } from './breach-checker.js';
import { emailKey, emailSearchKey } from '../identifiers/canonical-email.js';

export type PasswordProblemCode = 'too_short' | 'too_long' | 'too_common' | 'contains_email' | 'breached';
export interface PasswordProblem { code: PasswordProblemCode; params?: Record<string, number | string> }
export type PasswordVerdict = { ok: true } | { ok: false; problems: PasswordProblem[] };

export interface PasswordContext {
  email: string;
  name?: string | null;
  /** The account must use a second factor, so the shorter minimum applies (NIST SP 800-63B rev 4 §3.1.1.2). */
  mfaRequired?: boolean;
}

export interface PasswordPolicy {
  /** The server's verdict on a new password; the page's meter only advises. */
  check(password: string, context: PasswordContext): Promise<PasswordVerdict>;
}

/**
 * zxcvbn's brute-force floor is 10^n guesses for n characters, so score 3 (≥ 10^8) is out of
 * reach below 9 characters. With a second factor required, score 2 still rejects every
 * dictionary word and common password, and keeps the 8-character minimum NIST allows meaningful.
 */
const mfaScoreCeiling = 2;

/** Scorer limits; views/static/password-meter.js mirrors them so the meter and the server agree. */
export const zxcvbnLimits = {
  // Scoring looks at a prefix: an adversarial 256-character l33t string costs seconds of
  // synchronous CPU otherwise. Length checks, hashing and the breach lookup use the whole string.
  maxLength: 128,
  l33tMaxSubstitutions: 10,
} as const;

let scorer: ZxcvbnFactory | undefined;

/** Built once per process: ranking the dictionaries takes ~250 ms. */
function zxcvbn(): ZxcvbnFactory {
  scorer ??= new ZxcvbnFactory({
    dictionary: { ...zxcvbnCommon.dictionary, ...zxcvbnEn.dictionary },
    graphs: zxcvbnCommon.adjacencyGraphs,
    translations: zxcvbnEn.translations,
    ...zxcvbnLimits,
  });
  return scorer;
}

/** Length in code points: NIST counts each Unicode code point as one character. */
function codePoints(value: string): number {
  let count = 0;
  for (const _ of value) count += 1;
  return count;
}

/** Words zxcvbn should treat as guessable for this person. */
function userInputs(email: string, name: string | null | undefined): string[] {
  const localPart = email.split('@')[0] ?? '';
  const words = [email, localPart, ...localPart.split(/[._+-]+/), ...(name ? [name, ...name.split(/\s+/)] : [])];
  return [...new Set(words.map((word) => word.trim().toLowerCase()).filter((word) => word.length >= 3))];
}

/** Local parts to look for, including the base of a "+tag" address. Ignored under 3 characters. */
function localParts(email: string): string[] {
  // The canonical form's local part: the same folding as lookups (falls back for an address it refuses).
  const localPart = (emailKey(email) ?? emailSearchKey(email)).split('@')[0]!;
  return [localPart, localPart.split('+')[0]!].filter((part, index, all) => part.length >= 3 && all.indexOf(part) === index);
}

/**
 * NIST SP 800-63B rev 4 §3.1.1.2 password rules: length bounds in code points (never truncated),
 * no composition rules, a blocklist (zxcvbn dictionaries + score), the email's local part, and
 * optionally the breach corpus — looked up last, only when everything cheaper passed.
 */
export function createPasswordPolicy({ policy, breachChecker }: { policy: Config['passwordPolicy']; breachChecker?: BreachChecker }): PasswordPolicy {
  return {
    async check(password, { email, name, mfaRequired = false }) {
      const normalised = normalisePassword(password);
      const length = codePoints(normalised);
      const minLength = mfaRequired ? Math.min(policy.minLengthWithMfa, policy.minLength) : policy.minLength;
      const problems: PasswordProblem[] = [];

      if (length < minLength) problems.push({ code: 'too_short', params: { minLength } });
      if (length > policy.maxLength) {
        // Refused, never cut: scoring an over-long string would only waste CPU.
        problems.push({ code: 'too_long', params: { maxLength: policy.maxLength } });
        return { ok: false, problems };
      }
      const lowered = normalised.toLowerCase();
      if (localParts(email).some((part) => lowered.includes(part))) problems.push({ code: 'contains_email' });

      const minScore = mfaRequired ? Math.min(policy.minScore, mfaScoreCeiling) : policy.minScore;
      const { score } = zxcvbn().check(normalised, userInputs(email, name));
      if (score < minScore) problems.push({ code: 'too_common', params: { score, minScore } });

      if (problems.length > 0) return { ok: false, problems };
      if (policy.hibp.enabled && breachChecker && await breachChecker.isBreached(normalised)) {
        return { ok: false, problems: [{ code: 'breached' }] };
      }
      return { ok: true };
    },
  };
}
