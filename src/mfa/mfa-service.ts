import { BadRequestError, NotFoundError } from '../errors/app-error.js';
import type { AccountNotifier } from '../accounts/account-notifier.js';
import type { SecurityNotices } from '../accounts/security-notices.js';
import { auditContext, type FlowContext } from '../accounts/account-flow-deps.js';
import type { SecretBox } from '../infra/secret-box.js';
import type { Database } from '../infra/unit-of-work.js';
import type { Repositories } from '../repositories.js';
import type { MfaFactor } from './mfa-factor.entity.js';
import { newRecoveryCodes } from './recovery-codes.js';
import { newTotpEnrolment, totpStep } from './totp.js';

export interface MfaServiceDeps {
  db: Database<Repositories>;
  secretBox: SecretBox;
  notifier: AccountNotifier;
  /** Keyed hash for recovery codes. */
  hashRecoveryCode: (code: string) => string;
  /** The issuer name authenticator apps show next to the account. */
  totpIssuer: string;
  /** Tells the owner a factor was added or removed or new recovery codes were made (the container always passes it). */
  notices?: Pick<SecurityNotices, 'factorAdded' | 'factorRemoved' | 'recoveryCodesRegenerated'>;
  now?: () => Date;
}

export interface FactorView { id: string; type: MfaFactor['type']; name: string; createdAt: Date; lastUsedAt: Date | null }

const view = (factor: MfaFactor): FactorView => ({ id: factor.id, type: factor.type, name: factor.name, createdAt: factor.createdAt, lastUsedAt: factor.lastUsedAt });
const enrolmentWindowMs = 15 * 60 * 1000;

/** Enrols, checks and removes second factors; every change and every challenge is audited. */
export function createMfaService(deps: MfaServiceDeps) {
  const { db, secretBox, notifier } = deps;
  const now = deps.now ?? (() => new Date());

  async function freshRecoveryCodes(repos: Repositories, accountId: string): Promise<string[]> {
    const codes = newRecoveryCodes();
    await repos.recoveryCodes.replace(accountId, codes.map(deps.hashRecoveryCode));
    return codes;
  }

  return {
    listFactors: async (accountId: string) => (await db.repos.mfaFactors.listConfirmed(accountId)).map(view),
    hasFactors: async (accountId: string) => (await db.repos.mfaFactors.listConfirmed(accountId)).length > 0,
    remainingRecoveryCodes: (accountId: string) => db.repos.recoveryCodes.remaining(accountId),

    /** Starts a TOTP enrolment: an unconfirmed factor holding the sealed seed, and the QR code to scan. */
    async startTotp(accountId: string, label: string, name = 'Authenticator app') {
      const enrolment = await newTotpEnrolment(deps.totpIssuer, label);
      await db.repos.mfaFactors.deleteUnconfirmed(accountId, new Date(now().getTime() - enrolmentWindowMs));
      const factor = await db.repos.mfaFactors.insert({ accountId, type: 'totp', name: name.trim() || 'Authenticator app', secretEncrypted: await secretBox.seal(enrolment.secret) });
      return { factorId: factor.id, secret: enrolment.secret, uri: enrolment.uri, qrDataUrl: enrolment.qrDataUrl };
    },

    /**
     * Confirms an enrolment with a first valid code. The first factor of an account also yields
     * its recovery codes, returned once.
     */
    async confirmTotp(accountId: string, factorId: string, code: string, context: FlowContext): Promise<{ recoveryCodes?: string[] }> {
      const factor = await db.repos.mfaFactors.findById(accountId, factorId);
      if (!factor || factor.type !== 'totp' || factor.confirmedAt || factor.createdAt.getTime() < now().getTime() - enrolmentWindowMs) {
        throw new NotFoundError('enrolment_not_found', 'This enrolment has expired. Start again.');
      }
      const step = await totpStep(await secretBox.open(factor.secretEncrypted!), code.trim(), Math.floor(now().getTime() / 1000));
      if (step === undefined || !(await db.repos.mfaFactors.acceptTotpStep(factor.id, step, now()))) {
        await db.repos.audit.append({ type: 'mfa.enrolment_failed', actor: `account:${accountId}`, accountId, ...auditContext(context), details: { factorType: 'totp' } });
        throw new BadRequestError('mfa_code_invalid', 'That code is not valid. Check the time on your device and try the current code.');
      }
      const result = await db.transaction(async (repos) => {
        const first = (await repos.mfaFactors.listConfirmed(accountId)).length === 0;
        await repos.mfaFactors.update(factor.id, { confirmedAt: now() });
        const recoveryCodes = first ? await freshRecoveryCodes(repos, accountId) : undefined;
        await repos.audit.append({ type: 'mfa.enrolled', actor: `account:${accountId}`, accountId, ...auditContext(context), details: { factorId: factor.id, factorType: 'totp', name: factor.name } });
        await deps.notices?.factorAdded(repos, accountId, 'totp', context);
        return { recoveryCodes };
      });
      return result;
    },

    /** True when the code belongs to one of the account's TOTP factors and wasn't used before. */
    async verifyTotp(accountId: string, code: string, context: FlowContext): Promise<boolean> {
      const factors = (await db.repos.mfaFactors.listConfirmed(accountId)).filter((factor) => factor.type === 'totp');
      for (const factor of factors) {
        const step = await totpStep(await secretBox.open(factor.secretEncrypted!), code.trim(), Math.floor(now().getTime() / 1000));
        if (step !== undefined && await db.repos.mfaFactors.acceptTotpStep(factor.id, step, now())) {
          await db.repos.audit.append({ type: 'mfa.challenge_passed', actor: `account:${accountId}`, accountId, ...auditContext(context), details: { factorId: factor.id, factorType: 'totp' } });
          return true;
        }
      }
      await db.repos.audit.append({ type: 'mfa.challenge_failed', actor: `account:${accountId}`, accountId, ...auditContext(context), details: { factorType: 'totp' } });
      return false;
    },

    /** Spends one recovery code and tells the owner by email. */
    async useRecoveryCode(accountId: string, email: string, code: string, context: FlowContext): Promise<boolean> {
      const used = await db.repos.recoveryCodes.use(accountId, deps.hashRecoveryCode(code), now());
      await db.repos.audit.append({ type: used ? 'mfa.recovery_code_used' : 'mfa.challenge_failed', actor: `account:${accountId}`, accountId, ...auditContext(context), details: { factorType: 'recovery_code' } });
      if (used) notifier.send('recovery-code-used', email, context.locale, { remaining: await db.repos.recoveryCodes.remaining(accountId) });
      return used;
    },

    /** A code from an authenticator app or a recovery code, told apart by their shapes (password reset). */
    async verifyAppOrRecoveryCode(account: { id: string; email: string }, code: string, context: FlowContext): Promise<boolean> {
      return /^\d{6}$/.test(code.trim())
        ? this.verifyTotp(account.id, code, context)
        : this.useRecoveryCode(account.id, account.email, code, context);
    },

    /**
     * A new set of ten codes; the old set stops working. The owner is told, except for the set that
     * comes with a first factor (`withFirstFactor`): that factor's own notice covers it.
     */
    async regenerateRecoveryCodes(
      accountId: string, context: FlowContext, options: { withFirstFactor?: boolean } = {},
    ) {
      const codes = await db.transaction(async (repos) => {
        const fresh = await freshRecoveryCodes(repos, accountId);
        await repos.audit.append({ type: 'mfa.recovery_codes_regenerated', actor: `account:${accountId}`, accountId, ...auditContext(context) });
        if (!options.withFirstFactor) await deps.notices?.recoveryCodesRegenerated(repos, accountId, context);
        return fresh;
      });
      return codes;
    },

    async rename(accountId: string, factorId: string, name: string, context: FlowContext): Promise<void> {
      const trimmed = name.trim();
      if (!trimmed || trimmed.length > 60) throw new BadRequestError('invalid_name', 'Give the factor a name of at most 60 characters.');
      const factor = await db.repos.mfaFactors.findById(accountId, factorId);
      if (!factor?.confirmedAt) throw new NotFoundError('factor_not_found', 'No such factor.');
      await db.transaction(async (repos) => {
        await repos.mfaFactors.update(factorId, { name: trimmed });
        await repos.audit.append({ type: 'mfa.renamed', actor: `account:${accountId}`, accountId, ...auditContext(context), details: { factorId, before: factor.name, after: trimmed } });
      });
    },

    /** Removes a factor; the last one can't go while a policy requires a second factor. */
    async remove(accountId: string, factorId: string, options: { mfaRequired: boolean }, context: FlowContext): Promise<void> {
      const removed = await db.transaction(async (repos) => {
        const factors = await repos.mfaFactors.listConfirmed(accountId);
        const factor = factors.find((candidate) => candidate.id === factorId);
        if (!factor) throw new NotFoundError('factor_not_found', 'No such factor.');
        if (factors.length === 1 && options.mfaRequired) {
          throw new BadRequestError('last_factor_required', 'Your account must keep a second factor. Add another one before removing this one.');
        }
        await repos.mfaFactors.delete(accountId, factorId);
        if (factors.length === 1) await repos.recoveryCodes.deleteAll(accountId);
        await repos.audit.append({ type: 'mfa.removed', actor: `account:${accountId}`, accountId, ...auditContext(context), details: { factorId, factorType: factor.type, name: factor.name } });
        await deps.notices?.factorRemoved(repos, accountId, factor.type, context);
        return factor;
      });
    },

    /** Admin reset: every factor and recovery code gone (the person enrols again at next sign-in if required). */
    async reset(accountId: string, actor: string): Promise<number> {
      return db.transaction(async (repos) => {
        const removed = await repos.mfaFactors.deleteAll(accountId);
        await repos.recoveryCodes.deleteAll(accountId);
        await repos.accounts.bumpTrustedDeviceEpoch(accountId);
        await repos.audit.append({ type: 'mfa.reset', actor, accountId, details: { factorsRemoved: removed } });
        return removed;
      });
    },
  };
}

export type MfaService = ReturnType<typeof createMfaService>;
