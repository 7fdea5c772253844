import type { Context } from 'koa';
import { errors } from 'oidc-provider';
import { z } from 'zod';
import type { Account } from '../accounts/account.entity.js';
import { signedInWithin } from '../account/recent-auth.js';
import { AppError } from '../errors/app-error.js';
import { readForm } from '../http/form-body.js';
import { requestsPrivilegedApi } from '../apis/privileged-api-policy.js';
import { acr, mfaRequired, requestsMfa } from '../mfa/mfa-policy.js';
import { otpAmr } from '../mfa/otp-service.js';
import { SecondFactorLockedError } from '../mfa/second-factor-guard.js';
import type { InteractionDeps } from './interaction-deps.js';
import { loadInteraction, type InteractionDetails, type PendingSignIn } from './load-interaction.js';
import { createNewDeviceNotice } from './new-device-notice.js';
import { flowContext, tr } from './page-context.js';
import { renderSecondFactorLocked } from './second-factor-locked-page.js';

const mfaForm = z.object({ csrf: z.string(), method: z.enum(['totp', 'recovery', 'otp']), code: z.string().trim().min(1).max(40), factorId: z.string().uuid().optional(), trust: z.literal('on').optional() });
const sendForm = z.object({ csrf: z.string(), factorId: z.string().uuid() });
const enrolForm = z.object({ csrf: z.string(), code: z.string().trim().min(1).max(10) });

type Client = { clientId: string; clientName?: string; [key: string]: unknown };

/** Audits a completed step-up: a signed-in person added a second factor to their session. */
export async function recordStepUp(deps: Pick<InteractionDeps, 'db'>, ctx: Context, accountId: string, secondFactor: string[]): Promise<void> {
  await deps.db.repos.audit.append({
    type: 'mfa.step_up', actor: `account:${accountId}`, accountId, ip: ctx.state.clientIp, userAgent: ctx.get('user-agent') || undefined, details: { amr: secondFactor },
  });
}

/** The login result oidc-provider records on the session: RFC 8176 amr, and acr by whether a second factor was used. */
export function loginResult(pending: Pick<PendingSignIn, 'accountId' | 'remember' | 'amr'>, secondFactor: string[]) {
  const amr = [...new Set([...pending.amr, ...secondFactor, ...(secondFactor.length ? ['mfa'] : [])])];
  return {
    login: { accountId: pending.accountId, amr, acr: secondFactor.length ? acr.mfa : acr.password, remember: pending.remember, ts: Math.floor(Date.now() / 1000) },
  };
}

/**
 * The second-factor step every way into a session passes through: after a password (and a
 * replaced breached one), and as step-up for a signed-in person. Progress lives on the
 * Interaction, server-side; no session exists until it is finished.
 *
 * Enrolment here satisfies the recent-auth rule (account/recent-auth.ts) by construction: it
 * follows the password just proven in this same Interaction (afterFirstFactor), or, for a step-up
 * of an existing session, only a session signed in within `mfa.recentAuthSeconds`.
 */
export function createMfaHandlers(deps: InteractionDeps) {
  const { host, csrf, render, mfa, accounts, config, trustedDevices, rateLimits, secondFactorGuard, apis } = deps;
  const newDeviceNotice = createNewDeviceNotice(deps);

  async function finish(ctx: Context, pending: Pick<PendingSignIn, 'accountId' | 'remember' | 'amr' | 'stepUp'>, secondFactor: string[]) {
    if (pending.stepUp) await recordStepUp(deps, ctx, pending.accountId, secondFactor);
    await newDeviceNotice(ctx, pending.accountId);
    await host.provider.interactionFinished(ctx.req, ctx.res, loginResult(pending, secondFactor), { mergeWithLastSubmission: false });
  }

  async function savePending(ctx: Context, pending: PendingSignIn) {
    await host.provider.interactionResult(ctx.req, ctx.res, { portcullis: pending }, { mergeWithLastSubmission: true });
  }

  async function renderChallenge(ctx: Context, uid: string, accountId: string, formError?: string, status = 200, sent?: { factorId: string; sentTo: string }) {
    const factors = await mfa.listFactors(accountId);
    const types = new Set(factors.map((factor) => factor.type));
    await render(ctx, 'interaction/mfa', {
      title: tr(ctx, 'pages.mfa.title'), uid, formError, trustDays: config.mfa.trustDeviceDays,
      totp: types.has('totp'), webauthn: types.has('webauthn'),
      otpFactors: factors.filter((factor) => factor.type === 'email' || factor.type === 'sms'), sent,
    }, status);
  }

  async function startEnrolment(ctx: Context, uid: string, pending: PendingSignIn, account: Account, formError?: string, status = 200) {
    const enrolment = await mfa.startTotp(account.id, account.email);
    await savePending(ctx, { ...pending, step: 'mfa_enrol', enrolFactorId: enrolment.factorId });
    await render(ctx, 'interaction/mfa-enrol', { title: tr(ctx, 'pages.mfa.enrol_title'), uid, qrDataUrl: enrolment.qrDataUrl, secret: enrolment.secret, formError }, status);
  }

  /** Sends the sign-in to the second factor when one is due, or finishes it with the first. */
  async function afterFirstFactor(ctx: Context, details: InteractionDetails, client: Client, account: Account, pending: Omit<PendingSignIn, 'step'>) {
    const factors = await mfa.listFactors(account.id);
    // Tokens for a privileged API need a factor passed now: the same as an explicit step-up.
    const privileged = await requestsPrivilegedApi(details.params.resource, client, apis);
    const required = privileged || mfaRequired({
      accountRequiresMfa: account.mfaRequired, roles: await accounts.rolesOf(account.id), requiredRoles: config.mfa.requiredRoles,
      clientRequiresMfa: client['require_mfa'] === true, acrValues: details.params.acr_values as string | undefined,
    });
    if (!factors.length && !required) return finish(ctx, pending, []);
    const stepUp = privileged || requestsMfa(details.params.acr_values);
    if (factors.length && !stepUp && trustedDevices.isTrusted(ctx, account.id, account.trustedDeviceEpoch)) return finish(ctx, pending, ['mfa']);
    if (!factors.length) return startEnrolment(ctx, details.uid, { ...pending, step: 'mfa_enrol' }, account);
    await savePending(ctx, { ...pending, step: 'mfa' });
    await renderChallenge(ctx, details.uid, account.id);
  }

  /** The recent-auth rule for a session an interaction found (its snapshot carries no loginTs). */
  async function sessionSignedInRecently(session: { cookie?: string }): Promise<boolean> {
    const stored = session.cookie ? await host.provider.Session.find(session.cookie) : undefined;
    return signedInWithin(stored?.loginTs, config.mfa.recentAuthSeconds);
  }

  async function pendingAccount(ctx: Context, step: PendingSignIn['step']) {
    const loaded = await loadInteraction(host, ctx, 'login');
    if (loaded.pending?.step !== step) throw new errors.InvalidRequest('this sign-in step is not pending');
    const account = await accounts.findById(loaded.pending.accountId);
    if (!account || account.disabledAt) throw new errors.InvalidRequest('account not available');
    return { ...loaded, pending: loaded.pending, account };
  }

  return {
    afterFirstFactor,
    renderChallenge,

    /** GET with pending MFA state, or a signed-in person asked for a second factor (step-up). */
    async resume(ctx: Context, details: InteractionDetails, pending: PendingSignIn | undefined): Promise<boolean> {
      if (pending?.step === 'mfa') return renderChallenge(ctx, details.uid, pending.accountId).then(() => true);
      if (pending?.step === 'recovery_codes') return render(ctx, 'interaction/recovery-codes', { title: tr(ctx, 'pages.mfa.codes_title'), uid: details.uid, codes: [] }).then(() => true);
      if (pending?.step === 'mfa_enrol') {
        const account = await accounts.findById(pending.accountId);
        if (account) return startEnrolment(ctx, details.uid, pending, account).then(() => true);
      }
      const session = details.session as { accountId?: string; amr?: string[]; cookie?: string } | undefined;
      // Only when the second factor is all that's missing: prompt=login, max_age and the like want the password again.
      const onlyMfaMissing = details.prompt.reasons.length > 0 && details.prompt.reasons.every((reason) => reason === 'mfa_required');
      if (!pending && session?.accountId && onlyMfaMissing) {
        const account = await accounts.findById(session.accountId);
        if (!account || account.disabledAt) return false;
        const base = { accountId: account.id, remember: true, amr: session.amr ?? ['pwd'], stepUp: true };
        if (await mfa.hasFactors(account.id)) {
          await savePending(ctx, { ...base, step: 'mfa' });
          await renderChallenge(ctx, details.uid, account.id);
        } else {
          // Adding a factor needs a recent sign-in (account/recent-auth.ts): an older session shows
          // the password form first, and the enrolment follows that sign-in (afterFirstFactor).
          if (!(await sessionSignedInRecently(session))) return false;
          await startEnrolment(ctx, details.uid, { ...base, step: 'mfa_enrol' }, account);
        }
        return true;
      }
      return false;
    },

    async verify(ctx: Context) {
      const { details, pending, account } = await pendingAccount(ctx, 'mfa');
      const form = await readForm(ctx);
      csrf.verify(ctx, form.csrf);
      const parsed = mfaForm.safeParse(form);
      if (!parsed.success) return renderChallenge(ctx, details.uid, account.id, tr(ctx, 'pages.mfa.enter_code'), 400);
      await rateLimits.consume('mfaPerAccount', account.id);
      const context = flowContext(ctx, String(details.params.client_id));
      let amr = 'otp';
      const check = async () => {
        if (parsed.data.method === 'totp') return mfa.verifyTotp(account.id, parsed.data.code, context);
        if (parsed.data.method === 'recovery') {
          return mfa.useRecoveryCode(account.id, account.email, parsed.data.code, context);
        }
        const factor = (await mfa.listFactors(account.id)).find((candidate) => candidate.id === parsed.data.factorId);
        if (factor) amr = otpAmr(factor.type as 'email' | 'sms');
        return factor !== undefined && deps.otp.verifyCode(account.id, factor.id, parsed.data.code, context);
      };
      let ok: boolean;
      try {
        // Every kind of code counts towards the one second-factor lockout of the account.
        ok = await secondFactorGuard.attempt(account, parsed.data.method, context, check);
      } catch (error) {
        if (error instanceof SecondFactorLockedError) return renderSecondFactorLocked(ctx, render, error);
        throw error;
      }
      if (!ok) return renderChallenge(ctx, details.uid, account.id, tr(ctx, 'pages.mfa.code_invalid'), 400);
      if (parsed.data.trust === 'on') trustedDevices.remember(ctx, account.id, account.trustedDeviceEpoch);
      await finish(ctx, pending, [amr]);
    },

    /** Sends an email or SMS code for the pending sign-in. */
    async sendCode(ctx: Context) {
      const { details, account } = await pendingAccount(ctx, 'mfa');
      const form = await readForm(ctx);
      csrf.verify(ctx, form.csrf);
      const parsed = sendForm.safeParse(form);
      if (!parsed.success) return renderChallenge(ctx, details.uid, account.id, tr(ctx, 'pages.mfa.enter_code'), 400);
      const sent = await deps.otp.sendCode(account.id, parsed.data.factorId, flowContext(ctx, String(details.params.client_id)));
      await renderChallenge(ctx, details.uid, account.id, undefined, 200, { factorId: parsed.data.factorId, sentTo: sent.sentTo });
    },

    async confirmEnrolment(ctx: Context) {
      const { details, pending, account } = await pendingAccount(ctx, 'mfa_enrol');
      const form = await readForm(ctx);
      csrf.verify(ctx, form.csrf);
      const parsed = enrolForm.safeParse(form);
      if (!pending.enrolFactorId) throw new errors.InvalidRequest('no enrolment in progress');
      await rateLimits.consume('mfaPerAccount', account.id);
      let recoveryCodes: string[] | undefined;
      try {
        if (!parsed.success) throw new AppError('mfa_code_invalid', 400);
        ({ recoveryCodes } = await mfa.confirmTotp(account.id, pending.enrolFactorId, parsed.data.code, flowContext(ctx, String(details.params.client_id))));
      } catch (error) {
        if (error instanceof AppError && error.status === 400) return startEnrolment(ctx, details.uid, pending, account, tr(ctx, 'pages.mfa.code_invalid'), 400);
        throw error;
      }
      if (!recoveryCodes) return finish(ctx, pending, ['otp']);
      // The codes are shown once; the step that follows only finishes the sign-in.
      await savePending(ctx, { ...pending, step: 'recovery_codes', amr: [...pending.amr, 'otp'], enrolFactorId: undefined });
      await render(ctx, 'interaction/recovery-codes', { title: tr(ctx, 'pages.mfa.codes_title'), uid: details.uid, codes: recoveryCodes });
    },

    async done(ctx: Context) {
      const { pending } = await pendingAccount(ctx, 'recovery_codes');
      const form = await readForm(ctx);
      csrf.verify(ctx, form.csrf);
      await finish(ctx, pending, ['otp']);
    },
  };
}

export type MfaHandlers = ReturnType<typeof createMfaHandlers>;
