import { createHmac, randomInt, randomUUID } from 'node:crypto';
import { auditContext, type FlowContext } from '../accounts/account-flow-deps.js';
import type { AccountNotifier } from '../accounts/account-notifier.js';
import type { SecurityNotices } from '../accounts/security-notices.js';
import { BadRequestError, ConflictError, NotFoundError, ServiceUnavailableError, TooManyRequestsError } from '../errors/app-error.js';
import { translator, type Locale } from '../i18n/i18n.js';
import { maskPhone } from '../infra/sms.js';
import type { Database } from '../infra/unit-of-work.js';
import type { Repositories } from '../repositories.js';
import type { MfaFactor } from './mfa-factor.entity.js';
import type { OtpChallengeRepository } from './otp-challenge-repository.js';
import { newRecoveryCodes } from './recovery-codes.js';

/** The repositories this service needs; the container's set gains `otpChallenges` when it is registered. */
export type OtpRepositories = Pick<Repositories, 'accounts' | 'mfaFactors' | 'recoveryCodes' | 'audit' | 'outbox'>
  & { otpChallenges: OtpChallengeRepository };

export interface OtpSettings {
  ttlSeconds: number;
  /** Guesses per code; then that code is dead and the person asks for a new one (NIST SP 800-63B §5.2.2). */
  maxAttempts: number;
  /** Minimum gap between two codes for one factor. */
  resendSeconds: number;
  /** Codes per account per rolling hour, over all its factors: caps SMS pumping through repeated enrolments. */
  maxSendsPerHour: number;
}

export const defaultOtpSettings: OtpSettings = { ttlSeconds: 600, maxAttempts: 5, resendSeconds: 30, maxSendsPerHour: 5 };

export interface OtpServiceDeps {
  db: Database<OtpRepositories>;
  /** Codes leave through the outbox, queued in the transaction that stores their hash. */
  notifier: Pick<AccountNotifier, 'sendWithin' | 'sendSmsWithin'>;
  /** Tells the owner a factor was added (the container always passes it). */
  notices?: Pick<SecurityNotices, 'factorAdded'>;
  /**
   * False when no SMS provider is configured: SMS factors are refused with 503 instead of queuing texts
   * nobody sends.
   */
  smsAvailable?: boolean;
  /** Keyed hash (HMAC under a server secret) of what is stored for a code: see otpCodeHasher. */
  hashCode: (input: string) => string;
  /** Keyed hash for recovery codes, issued with an account's first factor as TOTP enrolment does. */
  hashRecoveryCode: (code: string) => string;
  /** Named in the SMS text. */
  productName: string;
  /** When set, SMS texts end with "@host #code" so browsers can offer to fill the code (origin-bound one-time codes). */
  issuer?: string;
  settings?: Partial<OtpSettings>;
  now?: () => Date;
}

export type OtpFactorType = 'email' | 'sms';

/** What the person is told after a code went out. */
export interface CodeSent { factorId: string; sentTo: string; expiresAt: Date; resendAt: Date }

/** The keyed hash for one-time codes: a leaked table can't be brute-forced over the 10⁶ codes without the key. */
export function otpCodeHasher(key: string): (input: string) => string {
  return (input) => createHmac('sha256', key).update(`otp:${input}`).digest('hex');
}

/**
 * The `amr` value a passed challenge contributes (RFC 8176 §2): "sms" for a texted code. RFC 8176
 * has no value for email, so an emailed code is reported as the generic "otp".
 */
export function otpAmr(type: OtpFactorType): 'sms' | 'otp' {
  return type === 'sms' ? 'sms' : 'otp';
}

/** E.164 ("+" and 7–15 digits), accepting spaces, dots, dashes, brackets and a "00" prefix; undefined otherwise. */
export function normalisePhone(input: string): string | undefined {
  const compact = input.trim().replace(/[\s.\-()]/g, '').replace(/^00/, '+');
  return /^\+[1-9]\d{6,14}$/.test(compact) ? compact : undefined;
}

const maskEmail = (email: string) => email.replace(/^(.)[^@]*(@.*)$/, '$1•••$2');
const enrolmentWindowMs = 15 * 60 * 1000;
const isOtpFactor = (factor: MfaFactor | null): factor is MfaFactor & { type: OtpFactorType } => factor?.type === 'email' || factor?.type === 'sms';

/** Email and SMS one-time codes: enrolment, sending (throttled) and checking (attempt-limited). */
export function createOtpService(deps: OtpServiceDeps) {
  const { db } = deps;
  const settings = { ...defaultOtpSettings, ...deps.settings };
  const now = deps.now ?? (() => new Date());
  const actorOf = (accountId: string) => `account:${accountId}`;

  /** The factor if it belongs to the account, is an OTP factor, and is confirmed or still within its enrolment window. */
  async function usableFactor(accountId: string, factorId: string, state: 'confirmed' | 'pending' | 'any') {
    const factor = await db.repos.mfaFactors.findById(accountId, factorId);
    if (!isOtpFactor(factor)) throw new NotFoundError('factor_not_found', 'No such factor.');
    const pending = !factor.confirmedAt && factor.createdAt.getTime() >= now().getTime() - enrolmentWindowMs;
    const usable = factor.confirmedAt ? state !== 'pending' : pending && state !== 'confirmed';
    if (!usable) {
      throw factor.confirmedAt || state === 'confirmed'
        ? new NotFoundError('factor_not_found', 'No such factor.')
        : new NotFoundError('enrolment_not_found', 'This enrolment has expired. Start again.');
    }
    return factor;
  }

  /**
   * Inside the caller's transaction: throttle, store a fresh code's hash, audit it, and queue the
   * email or text that carries it, so the code and its message commit together.
   */
  async function issue(
    repos: OtpRepositories, factor: Pick<MfaFactor, 'id' | 'accountId' | 'type' | 'phone'>, context: FlowContext,
  ) {
    if (factor.type === 'sms' && deps.smsAvailable === false) {
      throw new ServiceUnavailableError('sms_unavailable', 'SMS is not configured');
    }
    const at = now();
    await repos.otpChallenges.lockAccount(factor.accountId);
    const last = await repos.otpChallenges.latest(factor.id);
    const gapMs = last ? last.createdAt.getTime() + settings.resendSeconds * 1000 - at.getTime() : 0;
    if (gapMs > 0) throw new TooManyRequestsError(gapMs / 1000, 'A code was just sent. Please wait a moment before asking for another.');
    const sent = await repos.otpChallenges.sentSince(factor.accountId, new Date(at.getTime() - 3600_000));
    if (sent.count >= settings.maxSendsPerHour) {
      throw new TooManyRequestsError((sent.oldest!.getTime() + 3600_000 - at.getTime()) / 1000, 'Too many codes were sent. Please wait a while before asking for another.');
    }
    const code = String(randomInt(0, 1_000_000)).padStart(6, '0');
    const id = randomUUID();
    // The challenge id is hashed in, so equal codes never store equal hashes.
    const challenge = await repos.otpChallenges.create({
      id, accountId: factor.accountId, factorId: factor.id, codeHash: deps.hashCode(`${id}:${code}`),
      expiresAt: new Date(at.getTime() + settings.ttlSeconds * 1000), createdAt: at,
    });
    const expiresMinutes = Math.round(settings.ttlSeconds / 60);
    let sentTo: string;
    if (factor.type === 'sms') {
      await deps.notifier.sendSmsWithin(repos, factor.phone!, smsText(code, expiresMinutes, context.locale),
        { accountId: factor.accountId });
      sentTo = maskPhone(factor.phone!);
    } else {
      const account = await repos.accounts.findById(factor.accountId);
      if (!account) throw new NotFoundError('account_not_found', 'No such account.');
      await deps.notifier.sendWithin(repos, 'mfa-code', account.email, context.locale, { code, expiresMinutes },
        { accountId: account.id });
      sentTo = maskEmail(account.email);
    }
    // "issued", not "sent": the outbox worker records the delivery (sms.delivered, email.delivered).
    await repos.audit.append({
      type: 'mfa.code_issued', actor: actorOf(factor.accountId), accountId: factor.accountId, ...auditContext(context),
      details: { factorId: factor.id, factorType: factor.type },
    });
    return { challenge, sentTo };
  }

  /** What the person is told once the code's message is queued. */
  function codeSent(factorId: string, sentTo: string, expiresAt: Date): CodeSent {
    return { factorId, sentTo, expiresAt, resendAt: new Date(now().getTime() + settings.resendSeconds * 1000) };
  }

  function smsText(code: string, count: number, locale: Locale): string {
    const form = new Intl.PluralRules(locale).select(count) === 'one' ? 'one' : 'other';
    const text = translator(locale)(`email.mfa-code.sms.${form}`, { code, count, productName: deps.productName });
    return deps.issuer ? `${text}\n\n@${new URL(deps.issuer).host} #${code}` : text;
  }

  /** Creates an unconfirmed factor and sends its first code, or refuses a duplicate. */
  async function enrol(accountId: string, type: OtpFactorType, phone: string | null, context: FlowContext): Promise<CodeSent> {
    const { factor, challenge, sentTo } = await db.transaction(async (repos) => {
      // Locked before the duplicate check, so two parallel enrolments of one number can't both pass it.
      await repos.otpChallenges.lockAccount(accountId);
      const existing = await repos.mfaFactors.listConfirmed(accountId);
      if (existing.some((f) => f.type === type && f.phone === phone)) {
        throw new ConflictError('factor_exists', type === 'sms' ? 'This number is already set up.' : 'Email codes are already set up.');
      }
      // A throttled send throws inside this transaction, so a refused enrolment leaves no factor behind.
      const name = type === 'sms' ? `SMS ${maskPhone(phone!)}` : 'Email';
      // createdAt from the service clock: the enrolment window is measured against it.
      const inserted = await repos.mfaFactors.insert({ accountId, type, name, phone, createdAt: now() });
      return { factor: inserted, ...await issue(repos, inserted, context) };
    });
    return codeSent(factor.id, sentTo, challenge.expiresAt);
  }

  /** Spends one guess on the factor's newest code. */
  async function check(factorId: string, code: string) {
    const challenge = await db.repos.otpChallenges.latest(factorId);
    if (!challenge) return 'unavailable' as const;
    const guess = code.replace(/[\s-]/g, '');
    return db.repos.otpChallenges.attempt(challenge.id, deps.hashCode(`${challenge.id}:${guess}`), now(), settings.maxAttempts);
  }

  return {
    settings,

    /** Email codes go to the account's current address, so a (verified) email change moves the factor with it. */
    enrolEmail: (accountId: string, context: FlowContext) => enrol(accountId, 'email', null, context),

    /** Starts SMS enrolment for a number in international format. */
    async enrolSms(accountId: string, phone: string, context: FlowContext): Promise<CodeSent> {
      const e164 = normalisePhone(phone);
      if (!e164) throw new BadRequestError('invalid_phone', 'Enter the number in international format: + then the country code, e.g. +44 7700 900123.');
      return enrol(accountId, 'sms', e164, context);
    },

    /** Confirms an enrolment with its code; the account's first factor also yields recovery codes, returned once. */
    async confirm(accountId: string, factorId: string, code: string, context: FlowContext): Promise<{ recoveryCodes?: string[] }> {
      const factor = await usableFactor(accountId, factorId, 'pending');
      if (await check(factor.id, code) !== 'matched') {
        await db.repos.audit.append({ type: 'mfa.enrolment_failed', actor: actorOf(accountId), accountId, ...auditContext(context), details: { factorId, factorType: factor.type } });
        throw new BadRequestError('mfa_code_invalid', 'That code is not valid. Check it, or ask for a new one.');
      }
      const result = await db.transaction(async (repos) => {
        const first = (await repos.mfaFactors.listConfirmed(accountId)).length === 0;
        await repos.mfaFactors.update(factor.id, { confirmedAt: now() });
        let recoveryCodes: string[] | undefined;
        if (first) {
          recoveryCodes = newRecoveryCodes();
          await repos.recoveryCodes.replace(accountId, recoveryCodes.map(deps.hashRecoveryCode));
        }
        await repos.audit.append({ type: 'mfa.enrolled', actor: actorOf(accountId), accountId, ...auditContext(context), details: { factorId, factorType: factor.type, name: factor.name } });
        await deps.notices?.factorAdded(repos, accountId, factor.type, context);
        return { recoveryCodes };
      });
      return result;
    },

    /** Sends a fresh code for a confirmed factor (or one being enrolled); throttled per factor and per account. */
    async sendCode(accountId: string, factorId: string, context: FlowContext): Promise<CodeSent> {
      const factor = await usableFactor(accountId, factorId, 'any');
      const { challenge, sentTo } = await db.transaction((repos) => issue(repos, factor, context));
      return codeSent(factor.id, sentTo, challenge.expiresAt);
    },

    /** True once for the right code of a confirmed factor; the caller adds `otpAmr(factor.type)` to the session's amr. */
    async verifyCode(accountId: string, factorId: string, code: string, context: FlowContext): Promise<boolean> {
      const factor = await usableFactor(accountId, factorId, 'confirmed');
      const result = await check(factor.id, code);
      const details = { factorId, factorType: factor.type };
      if (result !== 'matched') {
        await db.repos.audit.append({ type: 'mfa.challenge_failed', actor: actorOf(accountId), accountId, ...auditContext(context), details: { ...details, reason: result } });
        return false;
      }
      await db.transaction(async (repos) => {
        await repos.mfaFactors.update(factor.id, { lastUsedAt: now() });
        await repos.audit.append({ type: 'mfa.challenge_passed', actor: actorOf(accountId), accountId, ...auditContext(context), details });
      });
      return true;
    },
  };
}

export type OtpService = ReturnType<typeof createOtpService>;
