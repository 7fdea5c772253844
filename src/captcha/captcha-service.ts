import { createHmac, timingSafeEqual } from 'node:crypto';
import { createChallenge, randomInt, verifySolution, type Challenge, type Solution } from 'altcha-lib';
import { deriveKey } from 'altcha-lib/algorithms/sha';
import { z } from 'zod';
import type { Config } from '../config/schema.js';
import { NotFoundError } from '../errors/app-error.js';
import type { Logger } from '../infra/logger.js';

export type CaptchaProvider = Config['captcha']['provider'];

/** Everything a page needs to render the widget of the configured provider. */
export interface CaptchaWidget {
  provider: CaptchaProvider;
  /** Form field the widget fills with its token or payload. */
  field?: string;
  siteKey?: string;
  scriptSrc?: string;
  /** altcha only: the widget's stylesheet (its default bundle would inject an inline <style>). */
  styleHref?: string;
  /** altcha only: the proof-of-work worker to register for SHA-256 (its default bundle would use a blob: worker). */
  workerSrc?: string;
  challengeUrl?: string;
  /** Remote providers: the CSP sources their widget needs, per directive, from each vendor's CSP guide. */
  cspSources?: CspSources;
}

export interface CspSources { script: string[]; frame: string[]; style: string[]; connect: string[] }

export interface Captcha {
  provider: CaptchaProvider;
  enabled: boolean;
  /** `maxNumber` (altcha): the work this page's challenge must ask for, carried signed in its challenge URL. */
  widget(options?: { maxNumber?: number }): CaptchaWidget;
  /**
   * A fresh signed altcha challenge asking for `maxNumber` work (clamped to altchaMaxNumber …
   * altchaMaxNumberCap), recorded signed in its parameters; NotFoundError for other providers.
   */
  challenge(maxNumber?: number): Promise<Challenge>;
  /**
   * True when the submitted form carries a valid, unused CAPTCHA response (always true when turned
   * off). altcha: a challenge issued for less work than `minMaxNumber` is refused.
   */
  verify(form: Record<string, string>, ip: string, options?: { minMaxNumber?: number }): Promise<boolean>;
  /** The work a challenge URL's signed `d` hint asks for; undefined when absent, forged or expired. */
  readHint(hint: unknown): number | undefined;
}

export interface CaptchaDeps {
  config: Config['captcha'];
  /** Signs altcha challenges; keep it secret and the same on every instance. */
  hmacKey: string;
  /** Records `key` for `ttlSeconds`; false when it was already recorded (a replay). Shared store in production. */
  markUsed: (key: string, ttlSeconds: number) => Promise<boolean>;
  fetch?: typeof fetch;
  logger: Pick<Logger, 'warn'>;
}

/** The form field each provider's widget posts. */
export const captchaFields = { altcha: 'altcha', turnstile: 'cf-turnstile-response', hcaptcha: 'h-captcha-response', recaptcha: 'g-recaptcha-response' } as const;

type RemoteProvider = 'turnstile' | 'hcaptcha' | 'recaptcha';
const cloudflare = ['https://challenges.cloudflare.com'];
const hcaptchaHosts = ['https://hcaptcha.com', 'https://*.hcaptcha.com'];
const remote: Record<RemoteProvider, { verifyUrl: string; scriptSrc: string; csp: CspSources }> = {
  turnstile: {
    verifyUrl: 'https://challenges.cloudflare.com/turnstile/v0/siteverify', scriptSrc: 'https://challenges.cloudflare.com/turnstile/v0/api.js',
    csp: { script: cloudflare, frame: cloudflare, style: [], connect: [] },
  },
  hcaptcha: {
    verifyUrl: 'https://api.hcaptcha.com/siteverify', scriptSrc: 'https://js.hcaptcha.com/1/api.js',
    csp: { script: hcaptchaHosts, frame: hcaptchaHosts, style: hcaptchaHosts, connect: hcaptchaHosts },
  },
  // reCAPTCHA v2 (checkbox or invisible): api.js loads its code from gstatic and its challenge in a frame.
  recaptcha: {
    verifyUrl: 'https://www.google.com/recaptcha/api/siteverify', scriptSrc: 'https://www.google.com/recaptcha/api.js',
    csp: { script: ['https://www.google.com/recaptcha/', 'https://www.gstatic.com/recaptcha/'], frame: ['https://www.google.com/recaptcha/', 'https://recaptcha.google.com/recaptcha/'], style: [], connect: [] },
  },
};
/** reCAPTCHA v3 answers success for any real token and grades it instead; below this, treat it as a bot. */
const minRecaptchaScore = 0.5;

const verifyTimeoutMs = 5_000;
const maxResponseLength = 8_192;

// Loose objects: the signature covers the parameters exactly as issued, so unknown keys must survive.
const altchaPayload = z.looseObject({
  challenge: z.looseObject({
    parameters: z.looseObject({
      algorithm: z.literal('SHA-256'), nonce: z.string(), salt: z.string(), keyPrefix: z.string(),
      expiresAt: z.number(),
      data: z.looseObject({ maxNumber: z.number().optional() }).optional(),
    }),
    signature: z.string().min(1),
  }),
  solution: z.looseObject({ counter: z.number(), derivedKey: z.string() }),
});

/**
 * CAPTCHA for sign-up and for sign-in after repeated failures. The default is altcha: a
 * self-hosted proof of work, no third-party calls. Remote providers fail CLOSED: a CAPTCHA
 * is an abuse gate, and an attacker who can make the verify call fail (or who waits for an
 * outage) must not get through it. Users can retry; only CAPTCHA-guarded steps are affected.
 */
export function createCaptcha({ config, hmacKey, markUsed, fetch: fetchImpl = globalThis.fetch, logger }: CaptchaDeps): Captcha {
  const { provider } = config;
  if (provider === 'altcha' && !hmacKey) throw new Error('captcha: altcha needs an HMAC key');
  if (provider !== 'altcha' && provider !== 'none' && (!config.siteKey || !config.secretKey)) {
    throw new Error(`captcha: ${provider} needs captcha.siteKey and captcha.secretKey`);
  }
  // Deterministic challenges sign the derived key with a second secret; derive it so config holds one.
  const keySignatureSecret = provider === 'altcha' ? createHmac('sha256', hmacKey).update('portcullis altcha key signature').digest('hex') : '';
  const hintKey = createHmac('sha256', hmacKey || 'none').update('portcullis altcha difficulty hint').digest();
  const cap = Math.max(config.altchaMaxNumberCap, config.altchaMaxNumber);
  const clamp = (maxNumber: number | undefined) =>
    Math.min(cap, Math.max(config.altchaMaxNumber, Math.floor(maxNumber ?? 0)));
  const hintMac = (body: string) => createHmac('sha256', hintKey).update(body).digest('base64url');

  /** `<maxNumber>.<expiresAt>.<mac>`: the client can carry it, not change it. */
  function hintFor(maxNumber: number): string {
    const body = `${maxNumber}.${Math.floor(Date.now() / 1000) + config.challengeTtl}`;
    return `${body}.${hintMac(body)}`;
  }

  function readHint(hint: unknown): number | undefined {
    if (typeof hint !== 'string' || hint.length > 100) return undefined;
    const match = /^(\d{1,10})\.(\d{1,12})\.([\w-]{43})$/.exec(hint);
    if (!match) return undefined;
    const expected = Buffer.from(hintMac(`${match[1]}.${match[2]}`));
    if (!timingSafeEqual(expected, Buffer.from(match[3]!)) || Number(match[2]) < Date.now() / 1000) return undefined;
    return clamp(Number(match[1]));
  }

  async function verifyAltcha(form: Record<string, string>, minMaxNumber: number): Promise<boolean> {
    const raw = form[captchaFields.altcha];
    if (!raw || raw.length > maxResponseLength) return false;
    let parsed: unknown;
    try {
      parsed = JSON.parse(Buffer.from(raw, 'base64').toString('utf8'));
    } catch {
      return false;
    }
    const payload = altchaPayload.safeParse(parsed);
    if (!payload.success) return false;
    const { challenge, solution } = payload.data;
    const result = await verifySolution({
      challenge: challenge as unknown as Challenge, solution: solution as Solution, deriveKey,
      hmacSignatureSecret: hmacKey, hmacKeySignatureSecret: keySignatureSecret,
    }).catch(() => ({ verified: false }));
    if (!result.verified) return false;
    // The work it was issued for is signed with it (challenges from before adaptive work: the base).
    const issuedFor = Number(challenge.parameters.data?.['maxNumber'] ?? config.altchaMaxNumber);
    if (!(issuedFor >= clamp(minMaxNumber))) return false;
    // Recorded only after verification, so forged payloads cannot fill the store.
    const ttl = Math.max(1, Math.ceil(challenge.parameters.expiresAt - Date.now() / 1000));
    return markUsed(`altcha:${challenge.signature}`, ttl);
  }

  async function verifyRemote(name: RemoteProvider, form: Record<string, string>, ip: string): Promise<boolean> {
    const token = form[captchaFields[name]];
    if (!token || token.length > maxResponseLength) return false;
    const body = new URLSearchParams({ secret: config.secretKey!, response: token, ...(ip ? { remoteip: ip } : {}) });
    try {
      const response = await fetchImpl(config.verifyUrl ?? remote[name].verifyUrl, {
        method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body, signal: AbortSignal.timeout(verifyTimeoutMs),
      });
      if (!response.ok) {
        await response.body?.cancel();
        logger.warn({ provider: name, status: response.status }, 'captcha verification unavailable; refused (fail-closed)');
        return false;
      }
      const result = await response.json() as { success?: unknown; score?: unknown };
      return result.success === true && (typeof result.score !== 'number' || result.score >= minRecaptchaScore);
    } catch (error) {
      const reason = error instanceof Error ? error.name === 'TimeoutError' ? 'timeout' : error.message : String(error);
      logger.warn({ provider: name, reason }, 'captcha verification unavailable; refused (fail-closed)');
      return false;
    }
  }

  return {
    provider,
    enabled: provider !== 'none',
    readHint,
    widget(options = {}) {
      if (provider === 'none') return { provider };
      if (provider === 'altcha') {
        const maxNumber = clamp(options.maxNumber);
        const challengeUrl = maxNumber > config.altchaMaxNumber
          ? `/captcha/challenge?d=${hintFor(maxNumber)}` : '/captcha/challenge';
        return {
          provider, field: captchaFields.altcha, challengeUrl, scriptSrc: '/static/vendor/altcha.js',
          styleHref: '/static/vendor/altcha.css', workerSrc: '/static/vendor/altcha-worker-sha.js',
        };
      }
      return { provider, field: captchaFields[provider], siteKey: config.siteKey, scriptSrc: remote[provider].scriptSrc, cspSources: remote[provider].csp };
    },
    async challenge(requested) {
      if (provider !== 'altcha') throw new NotFoundError('captcha_challenge_unavailable', 'this server does not use altcha');
      // SHA-256 with a server-chosen counter: the work is "try counters until the signed key
      // prefix appears", on average maxNumber / 2 hashes — the same scale as altcha v1.
      const maxNumber = clamp(requested);
      return createChallenge({
        algorithm: 'SHA-256', cost: 1, counter: randomInt(maxNumber), deriveKey, data: { maxNumber },
        expiresAt: Math.floor(Date.now() / 1000) + config.challengeTtl,
        hmacSignatureSecret: hmacKey, hmacKeySignatureSecret: keySignatureSecret,
      });
    },
    async verify(form, ip, options = {}) {
      if (provider === 'none') return true;
      if (provider === 'altcha') return verifyAltcha(form, options.minMaxNumber ?? 0);
      return verifyRemote(provider, form, ip);
    },
  };
}
