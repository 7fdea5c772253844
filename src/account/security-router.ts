import Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import { AppError } from '../errors/app-error.js';
import { readForm, readJson } from '../http/form-body.js';
import type { InteractionDeps } from '../interactions/interaction-deps.js';
import { flowContext, tr } from '../interactions/page-context.js';
import { mfaRequired } from '../mfa/mfa-policy.js';
import { requireRecentAuth } from './recent-auth.js';
import { requireSignedIn } from './signed-in.js';

const uuid = z.string().uuid();
const nameForm = z.object({ csrf: z.string(), name: z.string().trim().min(1).max(60) });
const confirmTotpForm = z.object({ csrf: z.string(), factorId: uuid, code: z.string().trim().min(1).max(10) });
const phoneForm = z.object({ csrf: z.string(), phone: z.string().trim().min(5).max(30) });
const registerBody = z.object({ handle: z.string().min(1).max(100), response: z.unknown(), name: z.string().max(60).optional() });
const codesCookie = 'pcl.recovery-codes';

/** /account/security: the person's second factors and recovery codes. */
export function createSecurityRouter(deps: InteractionDeps): Router {
  const { csrf, render, config, mfa, accounts, otp, webauthn, secretBox, db } = deps;
  const secure = config.issuer.startsWith('https://');
  const router = new Router({ prefix: '/account/security' });
  const signedIn = requireSignedIn(deps);
  router.use(async (ctx, next) => {
    ctx.set('Cache-Control', 'no-store');
    await next();
  });
  router.use(csrf.issue);
  router.use(signedIn);
  // Every route that adds or removes a factor or makes recovery codes (account/recent-auth.ts).
  const recent = requireRecentAuth(config, '/account/security');

  async function page(ctx: Context, locals: Record<string, unknown> = {}, status = 200) {
    const accountId = ctx.state.account.id;
    await render(ctx, 'account/security', {
      title: tr(ctx, 'pages.security.title'), account: ctx.state.account,
      factors: await mfa.listFactors(accountId), remaining: await mfa.remainingRecoveryCodes(accountId), smsEnabled: deps.smsEnabled, ...locals,
    }, status);
  }

  async function policyRequiresMfa(ctx: Context): Promise<boolean> {
    const account = ctx.state.account;
    return mfaRequired({ accountRequiresMfa: account.mfaRequired, roles: await accounts.rolesOf(account.id), requiredRoles: config.mfa.requiredRoles, clientRequiresMfa: false });
  }

  async function postedForm(ctx: Context) {
    const form = await readForm(ctx);
    csrf.verify(ctx, form.csrf);
    return form;
  }

  router.get('/', (ctx) => page(ctx, { reauthenticated: ctx.query.done === '1' }));

  router.post('/totp', recent, async (ctx) => {
    await postedForm(ctx);
    const enrolment = await mfa.startTotp(ctx.state.account.id, ctx.state.account.email);
    await render(ctx, 'account/totp-enrol', { title: tr(ctx, 'pages.mfa.enrol_title'), factorId: enrolment.factorId, qrDataUrl: enrolment.qrDataUrl, secret: enrolment.secret });
  });

  router.post('/totp/confirm', recent, async (ctx) => {
    const form = await postedForm(ctx);
    const parsed = confirmTotpForm.safeParse(form);
    if (!parsed.success) throw new AppError('invalid_form', 400, tr(ctx, 'pages.mfa.enter_code'));
    try {
      const { recoveryCodes } = await mfa.confirmTotp(ctx.state.account.id, parsed.data.factorId, parsed.data.code, flowContext(ctx));
      if (recoveryCodes) return ctx.redirect(await stashCodes(ctx, recoveryCodes));
    } catch (error) {
      if (error instanceof AppError && error.code === 'mfa_code_invalid') return page(ctx, { formError: tr(ctx, 'pages.mfa.code_invalid') }, 400);
      throw error;
    }
    await page(ctx, { notice: tr(ctx, 'pages.security.added') });
  });

  /** Shows freshly made recovery codes once: they travel sealed in a short-lived cookie, never stored in clear. */
  async function stashCodes(ctx: Context, codes: string[] | undefined): Promise<string> {
    if (!codes) return '/account/security';
    ctx.cookies.set(codesCookie, await secretBox.seal(JSON.stringify(codes)), { httpOnly: true, sameSite: 'strict', secure, maxAge: 300_000, path: '/account/security', signed: false });
    return '/account/security/codes';
  }

  router.get('/codes', async (ctx) => {
    const sealed = ctx.cookies.get(codesCookie);
    ctx.cookies.set(codesCookie, null, { path: '/account/security' });
    const codes = sealed ? await secretBox.open(sealed).then((text) => JSON.parse(text) as string[], () => undefined) : undefined;
    if (!codes) return ctx.redirect('/account/security');
    await render(ctx, 'interaction/recovery-codes', { title: tr(ctx, 'pages.mfa.codes_title'), codes, action: '/account/security/done' });
  });

  router.post('/webauthn/options', recent, async (ctx) => {
    csrf.verify(ctx, ctx.get('x-csrf-token'));
    const account = ctx.state.account;
    const existing = await db.repos.mfaFactors.listConfirmed(account.id);
    ctx.body = await webauthn.registrationOptions(account, existing);
  });

  router.post('/webauthn', recent, async (ctx) => {
    csrf.verify(ctx, ctx.get('x-csrf-token'));
    const parsed = registerBody.safeParse(await readJson(ctx));
    if (!parsed.success) throw new AppError('invalid_request', 400, 'expected { handle, response, name? }');
    const accountId = ctx.state.account.id;
    const first = !(await mfa.hasFactors(accountId));
    await webauthn.finishRegistration(accountId, parsed.data.handle, parsed.data.response as never, parsed.data.name ?? '', flowContext(ctx));
    const context = flowContext(ctx);
    const codes = first ? await mfa.regenerateRecoveryCodes(accountId, context, { withFirstFactor: true }) : undefined;
    ctx.body = { redirect: await stashCodes(ctx, codes) };
  });

  async function confirmCodePage(ctx: Context, factorId: string, sentTo: string, formError?: string, status = 200) {
    await render(ctx, 'account/confirm-code', { title: tr(ctx, 'pages.security.confirm_code_title'), factorId, sentTo, formError }, status);
  }

  router.post('/email', recent, async (ctx) => {
    await postedForm(ctx);
    const sent = await otp.enrolEmail(ctx.state.account.id, flowContext(ctx));
    await confirmCodePage(ctx, sent.factorId, sent.sentTo);
  });

  router.post('/sms', recent, async (ctx) => {
    const parsed = phoneForm.safeParse(await postedForm(ctx));
    try {
      if (!parsed.success) throw new AppError('invalid_phone', 400);
      const sent = await otp.enrolSms(ctx.state.account.id, parsed.data.phone, flowContext(ctx));
      await confirmCodePage(ctx, sent.factorId, sent.sentTo);
    } catch (error) {
      if (error instanceof AppError && error.code === 'invalid_phone') return page(ctx, { errors: { phone: tr(ctx, 'pages.security.phone_label') } }, 400);
      throw error;
    }
  });

  router.post('/otp/confirm', recent, async (ctx) => {
    const parsed = confirmTotpForm.safeParse(await postedForm(ctx));
    if (!parsed.success) throw new AppError('invalid_form', 400, tr(ctx, 'pages.mfa.enter_code'));
    try {
      const { recoveryCodes } = await otp.confirm(ctx.state.account.id, parsed.data.factorId, parsed.data.code, flowContext(ctx));
      return ctx.redirect(await stashCodes(ctx, recoveryCodes));
    } catch (error) {
      if (error instanceof AppError && error.code === 'mfa_code_invalid') return confirmCodePage(ctx, parsed.data.factorId, '', tr(ctx, 'pages.mfa.code_invalid'), 400);
      throw error;
    }
  });

  router.post('/done', async (ctx) => {
    await postedForm(ctx);
    ctx.redirect('/account/security');
  });

  router.post('/recovery-codes', recent, async (ctx) => {
    await postedForm(ctx);
    if (!(await mfa.hasFactors(ctx.state.account.id))) throw new AppError('no_factors', 400, tr(ctx, 'pages.security.no_factors'));
    const codes = await mfa.regenerateRecoveryCodes(ctx.state.account.id, flowContext(ctx));
    await render(ctx, 'interaction/recovery-codes', { title: tr(ctx, 'pages.mfa.codes_title'), codes, action: '/account/security/done' });
  });

  router.post('/:id/rename', async (ctx) => {
    const parsed = nameForm.safeParse(await postedForm(ctx));
    if (!parsed.success || !uuid.safeParse(ctx.params.id).success) return page(ctx, { formError: tr(ctx, 'pages.security.name_invalid') }, 400);
    await mfa.rename(ctx.state.account.id, ctx.params.id!, parsed.data.name, flowContext(ctx));
    await page(ctx, { notice: tr(ctx, 'pages.security.renamed') });
  });

  router.post('/:id/remove', recent, async (ctx) => {
    await postedForm(ctx);
    if (!uuid.safeParse(ctx.params.id).success) throw new AppError('factor_not_found', 404, 'No such factor.');
    try {
      await mfa.remove(ctx.state.account.id, ctx.params.id!, { mfaRequired: await policyRequiresMfa(ctx) }, flowContext(ctx));
    } catch (error) {
      if (error instanceof AppError && error.code === 'last_factor_required') return page(ctx, { formError: tr(ctx, 'pages.security.last_factor') }, 400);
      throw error;
    }
    await page(ctx, { notice: tr(ctx, 'pages.security.removed') });
  });

  return router;
}
