import Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import { PasswordRejectedError } from '../accounts/password-errors.js';
import { AppError } from '../errors/app-error.js';
import { readForm } from '../http/form-body.js';
import { formEmailField } from '../identifiers/email-field.js';
import type { InteractionDeps } from '../interactions/interaction-deps.js';
import { fieldErrors } from '../interactions/form-schemas.js';
import { flowContext, meterSettings, passwordProblemText, tr, translateErrors } from '../interactions/page-context.js';
import { finishAccountLogin } from './account-session.js';
import { requireRecentAuth } from './recent-auth.js';
import { requireSignedIn } from './signed-in.js';

const profileForm = z.object({ csrf: z.string(), name: z.string().trim().max(200) });
// Messages are catalogue keys: a failed parse marks each field with its own error (fieldErrors).
const passwordForm = z.object({ csrf: z.string(), current: z.string().min(1, 'pages.login.enter_password').max(4096), password: z.string().min(1, 'pages.login.enter_password').max(4096), signOutOthers: z.literal('on').optional() });
const emailChangeForm = z.object({
  csrf: z.string(), email: formEmailField(), password: z.string().min(1, 'pages.login.enter_password').max(4096),
});

const callbackMessages: Record<string, string> = {
  access_denied: 'pages.account.callback.access_denied',
  login_required: 'pages.account.callback.login_required',
  consent_required: 'pages.account.callback.interaction_required',
  interaction_required: 'pages.account.callback.interaction_required',
  temporarily_unavailable: 'pages.account.callback.temporarily_unavailable',
};
const callbackMessage = (error: unknown) => (typeof error === 'string' && Object.hasOwn(callbackMessages, error)
  ? callbackMessages[error]! : 'pages.account.callback.failed');

/** Self-service pages for the signed-in person: profile, password, email. */
export function createAccountRouter(deps: InteractionDeps): Router {
  const { csrf, render, config, passwordReset, emailChange, db } = deps;
  const router = new Router({ prefix: '/account' });

  router.use(async (ctx, next) => {
    ctx.set('Cache-Control', 'no-store');
    await next();
  });
  router.use(csrf.issue);

  router.get('/callback', async (ctx) => {
    // A fixed message per error code: error_description is attacker-chosen text on our origin.
    if (ctx.query.error !== undefined) {
      throw new AppError('sign_in_failed', 400, tr(ctx, callbackMessage(ctx.query.error)));
    }
    const returnTo = finishAccountLogin(ctx, typeof ctx.query.state === 'string' ? ctx.query.state : undefined);
    ctx.redirect(returnTo ?? '/account');
  });

  const signedIn = requireSignedIn(deps);
  // The password and email pages exist only to change a credential: a stale sign-in is asked to
  // sign in again before the form, and a stale POST changes nothing (account/recent-auth.ts).
  const recentFor = (page: string) => requireRecentAuth(config, page);

  const page = (ctx: Context, view: string, title: string, locals: Record<string, unknown> = {}, status = 200) =>
    render(ctx, `account/${view}`, { title: tr(ctx, title), account: ctx.state.account, meter: meterSettings(config.passwordPolicy), ...locals }, status);

  router.get('/', signedIn, (ctx) => page(ctx, 'profile', 'pages.account.title'));
  router.post('/profile', signedIn, async (ctx) => {
    const form = await readForm(ctx);
    csrf.verify(ctx, form.csrf);
    const parsed = profileForm.safeParse(form);
    if (!parsed.success) return page(ctx, 'profile', 'pages.account.title', { errors: { name: tr(ctx, 'pages.common.required_field') } }, 400);
    const account = ctx.state.account;
    await db.transaction(async (repos) => {
      await repos.accounts.update(account.id, { name: parsed.data.name || null });
      await repos.audit.append({ type: 'account.profile_updated', actor: `account:${account.id}`, accountId: account.id, ip: ctx.state.clientIp, details: { before: { name: account.name }, after: { name: parsed.data.name || null } } });
    });
    ctx.state.account = { ...account, name: parsed.data.name || null };
    await page(ctx, 'profile', 'pages.account.title', { notice: tr(ctx, 'pages.account.profile_saved') });
  });

  router.get('/password', signedIn, recentFor('/account/password'),
    (ctx) => page(ctx, 'password', 'pages.account.change_password'));
  router.post('/password', signedIn, recentFor('/account/password'), async (ctx) => {
    const form = await readForm(ctx);
    csrf.verify(ctx, form.csrf);
    const parsed = passwordForm.safeParse(form);
    if (!parsed.success) return page(ctx, 'password', 'pages.account.change_password', { errors: translateErrors(ctx, fieldErrors(parsed.error)) }, 400);
    try {
      await passwordReset.changePassword(ctx.state.account.id, {
        current: parsed.data.current, password: parsed.data.password, signOutOthers: parsed.data.signOutOthers === 'on', currentSessionId: ctx.state.sessionId,
      }, flowContext(ctx));
    } catch (error) {
      if (error instanceof PasswordRejectedError) return page(ctx, 'password', 'pages.account.change_password', { errors: { password: passwordProblemText(ctx, error.problems) } }, 400);
      if (error instanceof AppError && error.code === 'current_password_invalid') {
        return page(ctx, 'password', 'pages.account.change_password', { errors: { current: tr(ctx, 'pages.account.current_password_invalid') } }, 400);
      }
      throw error;
    }
    await page(ctx, 'password', 'pages.account.change_password', { notice: tr(ctx, 'pages.account.password_changed') });
  });

  router.get('/email', signedIn, recentFor('/account/email'),
    (ctx) => page(ctx, 'email', 'pages.account.change_email', { newEmail: '' }));
  router.post('/email', signedIn, recentFor('/account/email'), async (ctx) => {
    const form = await readForm(ctx);
    csrf.verify(ctx, form.csrf);
    const parsed = emailChangeForm.safeParse(form);
    if (!parsed.success) return page(ctx, 'email', 'pages.account.change_email', { newEmail: form.email ?? '', errors: translateErrors(ctx, fieldErrors(parsed.error)) }, 400);
    try {
      await emailChange.requestChange(ctx.state.account.id, { newEmail: parsed.data.email, password: parsed.data.password }, flowContext(ctx));
    } catch (error) {
      const fields: Record<string, [string, string]> = {
        current_password_invalid: ['password', 'pages.account.current_password_invalid'],
        invalid_email: ['email', 'pages.account.invalid_email'],
        email_ambiguous: ['email', 'pages.account.email_ambiguous'],
        email_control_characters: ['email', 'pages.account.email_control_characters'],
        email_unchanged: ['email', 'pages.account.email_unchanged'],
      };
      const known = error instanceof AppError ? fields[error.code] : undefined;
      if (known) return page(ctx, 'email', 'pages.account.change_email', { newEmail: parsed.data.email, errors: { [known[0]]: tr(ctx, known[1]) } }, 400);
      throw error;
    }
    await page(ctx, 'email', 'pages.account.change_email', { newEmail: '', notice: tr(ctx, 'pages.account.email_change_sent', { email: parsed.data.email }) });
  });

  return router;
}
