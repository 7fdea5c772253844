import Router from '@koa/router';
import type { Context } from 'koa';
import { PasswordRejectedError } from '../accounts/password-errors.js';
import { AppError } from '../errors/app-error.js';
import { readForm } from '../http/form-body.js';
import { SecondFactorLockedError } from '../mfa/second-factor-guard.js';
import type { InteractionDeps } from './interaction-deps.js';
import { emailForm, fieldErrors, newPasswordForm, returnParam, tokenForm } from './form-schemas.js';
import { flowContext, meterSettings, passwordProblemText, tr, translateErrors } from './page-context.js';
import { renderSecondFactorLocked } from './second-factor-locked-page.js';

const isInvalidLink = (error: unknown) => error instanceof AppError && error.code === 'link_invalid';

/**
 * Pages reached from emailed links and from "Forgot your password?": they work without a
 * sign-in in progress. Every link needs one POST, so a mail scanner's GET spends nothing.
 */
export function createRecoveryRouter(deps: InteractionDeps): Router {
  const { csrf, render, passwordReset, emailVerification, signIn, config } = deps;
  const router = new Router();
  router.use(async (ctx, next) => {
    ctx.set('Cache-Control', 'no-store');
    await next();
  });
  router.use(csrf.issue);

  const message = (ctx: Context, heading: string, body: string, extra: Record<string, unknown> = {}, status = 200) =>
    render(ctx, 'interaction/message', { title: heading, heading, message: body, ...extra }, status);
  const invalidLink = (ctx: Context) => message(ctx, tr(ctx, 'pages.link.invalid_title'), tr(ctx, 'pages.link.invalid_body'), {}, 404);
  const queryToken = (ctx: Context) => (typeof ctx.query.token === 'string' ? ctx.query.token : '');

  router.get('/forgot-password', async (ctx) => {
    await render(ctx, 'interaction/forgot', { title: tr(ctx, 'pages.forgot.title'), email: '', returnTo: returnParam.parse(ctx.query.return) });
  });
  router.post('/forgot-password', async (ctx) => {
    const form = await readForm(ctx);
    csrf.verify(ctx, form.csrf);
    const parsed = emailForm.safeParse(form);
    if (!parsed.success) {
      return render(ctx, 'interaction/forgot', {
        title: tr(ctx, 'pages.forgot.title'), email: form.email ?? '', returnTo: undefined,
        errors: translateErrors(ctx, fieldErrors(parsed.error)),
      }, 400);
    }
    await passwordReset.requestReset(parsed.data.email, flowContext(ctx));
    await message(ctx, tr(ctx, 'pages.forgot.sent_title'), tr(ctx, 'pages.forgot.sent_body', { email: parsed.data.email, minutes: Math.round(config.accounts.resetTtl / 60) }), {
      continueHref: parsed.data.return ? `/interaction/${parsed.data.return}` : undefined, continueLabel: tr(ctx, 'pages.common.back_to_sign_in'),
    });
  });

  // The banner announces the error; the field carries it too, tied with aria-invalid and aria-describedby.
  async function renderReset(ctx: Context, token: string, account: { id: string; email: string }, errors: { password?: string; code?: string } = {}, status = 200) {
    const formError = errors.password ?? errors.code;
    await render(ctx, 'interaction/new-password', {
      title: tr(ctx, 'pages.reset.title'), heading: tr(ctx, 'pages.reset.title'), lead: tr(ctx, 'pages.reset.lead', { email: account.email }),
      action: '/reset-password', token, email: account.email, formError, errors, meter: meterSettings(config.passwordPolicy),
      secondFactor: await passwordReset.requiresSecondFactor(account.id),
    }, status);
  }
  router.get('/reset-password', async (ctx) => {
    const token = queryToken(ctx);
    const account = await passwordReset.accountForLink(token).catch((error: unknown) => { if (isInvalidLink(error)) return undefined; throw error; });
    if (!account) return invalidLink(ctx);
    await renderReset(ctx, token, account);
  });
  router.post('/reset-password', async (ctx) => {
    const form = await readForm(ctx);
    csrf.verify(ctx, form.csrf);
    const parsed = newPasswordForm.safeParse(form);
    const token = parsed.success ? parsed.data.token ?? '' : form.token ?? '';
    try {
      const account = await passwordReset.accountForLink(token);
      if (!parsed.success) return renderReset(ctx, token, account, { password: tr(ctx, 'pages.login.enter_password') }, 400);
      await passwordReset.resetPassword(token, parsed.data.password, flowContext(ctx), form.code?.trim() || undefined);
    } catch (error) {
      if (isInvalidLink(error)) return invalidLink(ctx);
      const account = await passwordReset.accountForLink(token);
      if (error instanceof SecondFactorLockedError) return renderSecondFactorLocked(ctx, render, error);
      if (error instanceof PasswordRejectedError) return renderReset(ctx, token, account, { password: passwordProblemText(ctx, error.problems) }, 400);
      if (error instanceof AppError && (error.code === 'mfa_required' || error.code === 'mfa_code_invalid')) {
        return renderReset(ctx, token, account, { code: tr(ctx, error.code === 'mfa_required' ? 'pages.reset.code_required' : 'pages.mfa.code_invalid') }, 400);
      }
      throw error;
    }
    await message(ctx, tr(ctx, 'pages.reset.done_title'), tr(ctx, 'pages.reset.done_body'));
  });

  /** A GET that shows one button, and the POST behind it that spends the link. */
  function linkPage(path: string, keys: { title: string; body: string; submit: string; doneTitle: string; doneBody: string },
    isLive: (token: string) => Promise<boolean>, spend: (ctx: Context, token: string) => Promise<void>, continueTo?: (returnTo?: string) => string | undefined) {
    router.get(path, async (ctx) => {
      const token = queryToken(ctx);
      if (!(await isLive(token))) return invalidLink(ctx);
      await render(ctx, 'interaction/confirm-link', {
        title: tr(ctx, keys.title), heading: tr(ctx, keys.title), message: tr(ctx, keys.body), submitLabel: tr(ctx, keys.submit),
        action: path, token, returnTo: returnParam.parse(ctx.query.return),
      });
    });
    router.post(path, async (ctx) => {
      const form = await readForm(ctx);
      csrf.verify(ctx, form.csrf);
      const parsed = tokenForm.safeParse(form);
      if (!parsed.success) return invalidLink(ctx);
      try {
        await spend(ctx, parsed.data.token);
      } catch (error) {
        if (isInvalidLink(error)) return invalidLink(ctx);
        throw error;
      }
      const href = continueTo?.(parsed.data.return);
      await message(ctx, tr(ctx, keys.doneTitle), tr(ctx, keys.doneBody), { continueHref: href, continueLabel: tr(ctx, 'pages.verify.continue') });
    });
  }

  linkPage('/verify-email', { title: 'pages.verify.title', body: 'pages.verify.body', submit: 'pages.verify.submit', doneTitle: 'pages.verify.done_title', doneBody: 'pages.verify.done_body' },
    (token) => emailVerification.isLive(token), (ctx, token) => emailVerification.verify(token, flowContext(ctx)),
    (returnTo) => (returnTo ? `/interaction/${returnTo}` : undefined));
  linkPage('/unlock', { title: 'pages.unlock.title', body: 'pages.unlock.body', submit: 'pages.unlock.submit', doneTitle: 'pages.unlock.done_title', doneBody: 'pages.unlock.done_body' },
    (token) => signIn.isUnlockLinkLive(token), (ctx, token) => signIn.unlock(token, flowContext(ctx)));
  linkPage('/account/email/confirm', { title: 'pages.account.email_confirm_title', body: 'pages.account.change_email_lead', submit: 'pages.account.email_confirm_submit', doneTitle: 'pages.account.email_confirm_title', doneBody: 'pages.verify.done_body' },
    (token) => deps.emailChange.isLive(token), async (ctx, token) => { await deps.emailChange.confirm(token, flowContext(ctx)); });

  return router;
}
