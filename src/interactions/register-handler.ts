import type { Context } from 'koa';
import { PasswordRejectedError } from '../accounts/password-errors.js';
import { AppError } from '../errors/app-error.js';
import { readForm } from '../http/form-body.js';
import { EmailRefusedError, emailRefusalMessageKey } from '../identifiers/email-refused-error.js';
import type { InteractionDeps } from './interaction-deps.js';
import { emailForm, fieldErrors, registerForm } from './form-schemas.js';
import { loadInteraction } from './load-interaction.js';
import { flowContext, meterSettings, passwordProblemText, tr, translateErrors } from './page-context.js';

/** Sign-up inside a sign-in: the page always ends at "check your email", whoever owns the address. */
export function createRegisterHandlers(deps: InteractionDeps) {
  const { host, csrf, render, registration, emailVerification, captcha, rateLimits, config } = deps;

  async function renderRegister(ctx: Context, uid: string, clientName: string | undefined, values: Record<string, string>, extra: { formError?: string; errors?: Record<string, string> } = {}, status = 200) {
    if (!config.accounts.registrationEnabled) {
      throw new AppError('registration_disabled', 403, tr(ctx, 'pages.register.closed'));
    }
    await render(ctx, 'interaction/register', {
      title: tr(ctx, 'pages.register.title'), uid, clientName, values: { name: values.name ?? '', email: values.email ?? '' },
      captcha: captcha.enabled ? captcha.widget() : undefined, meter: meterSettings(config.passwordPolicy),
      formError: extra.formError, errors: translateErrors(ctx, extra.errors ?? {}),
    }, status);
  }

  async function checkEmail(ctx: Context, email: string, uid?: string) {
    await render(ctx, 'interaction/message', {
      title: tr(ctx, 'pages.check_email.title'), heading: tr(ctx, 'pages.check_email.title'),
      message: tr(ctx, 'pages.check_email.body', { email }),
      continueHref: uid ? `/interaction/${uid}` : undefined, continueLabel: tr(ctx, 'pages.common.back_to_sign_in'),
    });
  }

  return {
    async show(ctx: Context) {
      const { details, client } = await loadInteraction(host, ctx, 'login');
      await renderRegister(ctx, details.uid, client.clientName, {});
    },

    async submit(ctx: Context) {
      const { details, client } = await loadInteraction(host, ctx, 'login');
      const form = await readForm(ctx);
      csrf.verify(ctx, form.csrf);
      const parsed = registerForm.safeParse(form);
      if (!parsed.success) return renderRegister(ctx, details.uid, client.clientName, form, { errors: fieldErrors(parsed.error) }, 400);
      const context = flowContext(ctx, client.clientId);
      await rateLimits.consume('registrationPerIp', context.ip ?? 'unknown');
      if (captcha.enabled && !(await captcha.verify(form, context.ip ?? ''))) {
        return renderRegister(ctx, details.uid, client.clientName, form, { formError: tr(ctx, 'pages.login.captcha_failed') }, 400);
      }
      try {
        await registration.register({ ...parsed.data, returnTo: details.uid }, context);
      } catch (error) {
        if (error instanceof PasswordRejectedError) {
          return renderRegister(ctx, details.uid, client.clientName, form, { errors: { password: passwordProblemText(ctx, error.problems) } }, 400);
        }
        if (error instanceof EmailRefusedError) {
          const errors = { email: emailRefusalMessageKey(error.code) };
          return renderRegister(ctx, details.uid, client.clientName, form, { errors }, 400);
        }
        throw error;
      }
      await checkEmail(ctx, parsed.data.email, details.uid);
    },

    /** "Send the link again" from the unverified-email page. */
    async resend(ctx: Context) {
      const { details, client } = await loadInteraction(host, ctx, 'login');
      const form = await readForm(ctx);
      csrf.verify(ctx, form.csrf);
      const parsed = emailForm.safeParse(form);
      if (parsed.success) await emailVerification.resend(parsed.data.email, { ...flowContext(ctx, client.clientId), returnTo: details.uid });
      await render(ctx, 'interaction/message', {
        title: tr(ctx, 'pages.unverified.title'), heading: tr(ctx, 'pages.unverified.title'), message: tr(ctx, 'pages.unverified.sent'),
        continueHref: `/interaction/${details.uid}`, continueLabel: tr(ctx, 'pages.common.back_to_sign_in'),
      });
    },
  };
}
