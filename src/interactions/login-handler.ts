import type { Context } from 'koa';
import { errors } from 'oidc-provider';
import { PasswordRejectedError } from '../accounts/password-errors.js';
import { readForm } from '../http/form-body.js';
import type { InteractionDeps } from './interaction-deps.js';
import { fieldErrors, loginForm, newPasswordForm } from './form-schemas.js';
import type { Account } from '../accounts/account.entity.js';
import { loadInteraction, type InteractionDetails, type PendingSignIn } from './load-interaction.js';
import type { MfaHandlers } from './mfa-handler.js';

type Client = { clientId: string; clientName?: string; [key: string]: unknown };
import { flowContext, meterSettings, passwordProblemText, tr, translateErrors } from './page-context.js';

interface LoginView { email?: string; remember?: boolean; captcha?: boolean; formError?: string; errors?: Record<string, string> }

/** Password sign-in: lockout and CAPTCHA first, then the password, then what must happen before a session. */
export function createLoginHandlers(deps: InteractionDeps, mfa: MfaHandlers) {
  const { host, csrf, render, signIn, captcha, config, altchaDifficulty } = deps;

  /** altcha only: the work this sign-in's proof must show, from the email's and the IP's failures. */
  const requiredWork = async (ctx: Context, email: string | undefined) =>
    captcha.provider === 'altcha' ? altchaDifficulty.required(email, ctx.state.clientIp ?? 'unknown') : undefined;

  async function renderLogin(ctx: Context, uid: string, clientName: string | undefined, view: LoginView, status = 200) {
    const widget = view.captcha && captcha.enabled
      ? captcha.widget({ maxNumber: await requiredWork(ctx, view.email) }) : undefined;
    await render(ctx, 'interaction/login', {
      title: tr(ctx, 'pages.login.title'), uid, clientName, email: view.email ?? '', remember: view.remember ?? false,
      captcha: widget, formError: view.formError,
      errors: translateErrors(ctx, view.errors ?? {}), registrationEnabled: config.accounts.registrationEnabled,
    }, status);
  }

  async function renderNewPassword(ctx: Context, uid: string, email: string, passwordError?: string, status = 200) {
    await render(ctx, 'interaction/new-password', {
      title: tr(ctx, 'pages.breached.title'), heading: tr(ctx, 'pages.breached.title'), lead: tr(ctx, 'pages.breached.body'),
      action: `/interaction/${uid}/new-password`, email, formError: passwordError, errors: passwordError ? { password: passwordError } : {}, meter: meterSettings(config.passwordPolicy),
    }, status);
  }

  /** After a correct password: a confirmed address when the client needs one, then the MFA policy. */
  async function continueSignIn(ctx: Context, details: InteractionDetails, client: Client, account: Account, remember: boolean) {
    const mayBeUnverified = client['allow_unverified_email'] === true || !config.accounts.requireVerifiedEmail;
    if (!account.emailVerified && !mayBeUnverified) {
      return render(ctx, 'interaction/message', {
        title: tr(ctx, 'pages.unverified.title'), heading: tr(ctx, 'pages.unverified.title'),
        message: tr(ctx, 'pages.unverified.body', { client: client.clientName ?? client.clientId, email: account.email }),
        resendAction: `/interaction/${details.uid}/resend`, resendEmail: account.email,
      }, 403);
    }
    await mfa.afterFirstFactor(ctx, details, client, account, { accountId: account.id, remember, amr: ['pwd'] });
  }

  return {
    renderLogin,
    renderNewPassword,

    async login(ctx: Context) {
      const { details, client } = await loadInteraction(host, ctx, 'login');
      const form = await readForm(ctx);
      csrf.verify(ctx, form.csrf);
      const parsed = loginForm.safeParse(form);
      const remember = form.remember === 'on';
      if (!parsed.success) return renderLogin(ctx, details.uid, client.clientName, { email: form.email, remember, errors: fieldErrors(parsed.error) }, 400);
      const context = flowContext(ctx, client.clientId);
      // A proof of less work than the failures so far call for is refused (the page then asks for more).
      const minMaxNumber = form.altcha ? await requiredWork(ctx, parsed.data.email) : undefined;
      const captchaSolved = !captcha.enabled || await captcha.verify(form, context.ip ?? '', { minMaxNumber });
      const result = await signIn.signIn({ email: parsed.data.email, password: parsed.data.password, captchaSolved }, context);

      switch (result.outcome) {
        case 'locked': {
          const retry = result.retryAfterSeconds;
          ctx.set('Retry-After', String(retry));
          return render(ctx, 'interaction/message', {
            title: tr(ctx, 'pages.locked.title'), heading: tr(ctx, 'pages.locked.title'),
            message: tr(ctx, 'pages.locked.body', { minutes: Math.max(1, Math.ceil(retry / 60)) }),
          }, 429);
        }
        case 'captcha_required':
          return renderLogin(ctx, details.uid, client.clientName, {
            email: parsed.data.email, remember, captcha: true,
            formError: tr(ctx, form.altcha || form['cf-turnstile-response'] ? 'pages.login.captcha_failed' : 'pages.login.captcha_required'),
          }, 400);
        case 'invalid':
          return renderLogin(ctx, details.uid, client.clientName, {
            email: parsed.data.email, remember, captcha: result.captchaRequired, formError: tr(ctx, 'pages.login.invalid_credentials'),
          }, 400);
        case 'ok':
          break;
      }
      const { account } = result;
      if (result.breached) {
        // Kept on the interaction, server-side: no session exists until the new password is set.
        const pending: PendingSignIn = { accountId: account.id, remember, step: 'change_password', amr: ['pwd'] };
        await host.provider.interactionResult(ctx.req, ctx.res, { portcullis: pending }, { mergeWithLastSubmission: true });
        return renderNewPassword(ctx, details.uid, account.email);
      }
      await continueSignIn(ctx, details, client, account, remember);
    },

    /** The breached-password step: only reachable with the pending state a correct password left. */
    async newPassword(ctx: Context) {
      const { details, client, pending } = await loadInteraction(host, ctx, 'login');
      if (pending?.step !== 'change_password') throw new errors.InvalidRequest('no password change is pending for this sign-in');
      const form = await readForm(ctx);
      csrf.verify(ctx, form.csrf);
      const account = await deps.accounts.findById(pending.accountId);
      if (!account) throw new errors.InvalidRequest('account not found');
      const parsed = newPasswordForm.safeParse(form);
      if (!parsed.success) return renderNewPassword(ctx, details.uid, account.email, tr(ctx, 'pages.login.enter_password'), 400);
      try {
        await signIn.replaceBreachedPassword(account.id, parsed.data.password, flowContext(ctx, client.clientId));
      } catch (error) {
        if (error instanceof PasswordRejectedError) return renderNewPassword(ctx, details.uid, account.email, passwordProblemText(ctx, error.problems), 400);
        throw error;
      }
      await continueSignIn(ctx, details, client, (await deps.accounts.findById(account.id))!, pending.remember);
    },
  };
}
