import Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import { AppError } from '../errors/app-error.js';
import { readForm } from '../http/form-body.js';
import type { InteractionDeps } from '../interactions/interaction-deps.js';
import { flowContext, tr } from '../interactions/page-context.js';
import { mfaRequired } from '../mfa/mfa-policy.js';
import { accountLoginUrl } from './account-session.js';
import { requireSignedIn, signedInRecently } from './signed-in.js';

const uuid = z.string().uuid();
const nameForm = z.object({ csrf: z.string(), name: z.string().trim().min(1).max(60) });
const confirmTotpForm = z.object({ csrf: z.string(), factorId: uuid, code: z.string().trim().min(1).max(10) });

/** /account/security: the person's second factors and recovery codes. */
export function createSecurityRouter(deps: InteractionDeps): Router {
  const { csrf, render, config, mfa, accounts } = deps;
  const router = new Router({ prefix: '/account/security' });
  const signedIn = requireSignedIn(deps);
  router.use(async (ctx, next) => {
    ctx.set('Cache-Control', 'no-store');
    await next();
  });
  router.use(csrf.issue);
  router.use(signedIn);

  async function page(ctx: Context, locals: Record<string, unknown> = {}, status = 200) {
    const accountId = ctx.state.account.id;
    await render(ctx, 'account/security', {
      title: tr(ctx, 'pages.security.title'), account: ctx.state.account,
      factors: await mfa.listFactors(accountId), remaining: await mfa.remainingRecoveryCodes(accountId), ...locals,
    }, status);
  }

  async function policyRequiresMfa(ctx: Context): Promise<boolean> {
    const account = ctx.state.account;
    return mfaRequired({ accountRequiresMfa: account.mfaRequired, roles: await accounts.rolesOf(account.id), requiredRoles: config.mfa.requiredRoles, clientRequiresMfa: false });
  }

  /** Removing a factor or replacing recovery codes needs a sign-in from the last few minutes. */
  function needsFreshSignIn(ctx: Context): boolean {
    if (signedInRecently(ctx, config.mfa.recentAuthSeconds)) return false;
    ctx.redirect(accountLoginUrl(ctx, config.issuer, config.issuer.startsWith('https://'), '/account/security', true));
    return true;
  }

  async function postedForm(ctx: Context) {
    const form = await readForm(ctx);
    csrf.verify(ctx, form.csrf);
    return form;
  }

  router.get('/', (ctx) => page(ctx, { reauthenticated: ctx.query.done === '1' }));

  router.post('/totp', async (ctx) => {
    await postedForm(ctx);
    const enrolment = await mfa.startTotp(ctx.state.account.id, ctx.state.account.email);
    await render(ctx, 'account/totp-enrol', { title: tr(ctx, 'pages.mfa.enrol_title'), factorId: enrolment.factorId, qrDataUrl: enrolment.qrDataUrl, secret: enrolment.secret });
  });

  router.post('/totp/confirm', async (ctx) => {
    const form = await postedForm(ctx);
    const parsed = confirmTotpForm.safeParse(form);
    if (!parsed.success) throw new AppError('invalid_form', 400, tr(ctx, 'pages.mfa.enter_code'));
    try {
      const { recoveryCodes } = await mfa.confirmTotp(ctx.state.account.id, parsed.data.factorId, parsed.data.code, flowContext(ctx));
      if (recoveryCodes) {
        return render(ctx, 'interaction/recovery-codes', { title: tr(ctx, 'pages.mfa.codes_title'), codes: recoveryCodes, action: '/account/security/done' });
      }
    } catch (error) {
      if (error instanceof AppError && error.code === 'mfa_code_invalid') return page(ctx, { formError: tr(ctx, 'pages.mfa.code_invalid') }, 400);
      throw error;
    }
    await page(ctx, { notice: tr(ctx, 'pages.security.added') });
  });

  router.post('/done', async (ctx) => {
    await postedForm(ctx);
    ctx.redirect('/account/security');
  });

  router.post('/recovery-codes', async (ctx) => {
    await postedForm(ctx);
    if (needsFreshSignIn(ctx)) return;
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

  router.post('/:id/remove', async (ctx) => {
    await postedForm(ctx);
    if (!uuid.safeParse(ctx.params.id).success) throw new AppError('factor_not_found', 404, 'No such factor.');
    if (needsFreshSignIn(ctx)) return;
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
