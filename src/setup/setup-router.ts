import Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import { PasswordRejectedError } from '../accounts/password-errors.js';
import { AppError, NotFoundError } from '../errors/app-error.js';
import type { Csrf } from '../http/csrf.js';
import { readForm } from '../http/form-body.js';
import type { Renderer } from '../http/render.js';
import { EmailRefusedError, emailRefusalMessageKey } from '../identifiers/email-refused-error.js';
import { formEmailField } from '../identifiers/email-field.js';
import { fieldErrors } from '../interactions/form-schemas.js';
import { flowContext, meterSettings, passwordProblemText, tr, translateErrors } from '../interactions/page-context.js';
import type { Config } from '../config/schema.js';
import type { SetupService } from './setup-service.js';

const setupForm = z.object({
  csrf: z.string(), expires: z.string(), sig: z.string(),
  email: formEmailField('pages.common.required_field'), name: z.string().trim().max(200).optional(),
  password: z.string().min(1).max(4096),
});

/** /setup: the page behind the first-run link; 404 once an admin exists or for a bad link. */
export function createSetupRouter({ setup, csrf, render, config }: { setup: SetupService; csrf: Csrf; render: Renderer; config: Config }): Router {
  const router = new Router({ prefix: '/setup' });
  router.use(async (ctx, next) => {
    ctx.set('Cache-Control', 'no-store');
    await next();
  });
  router.use(csrf.issue);

  async function guard(ctx: Context, expires: string | undefined, sig: string | undefined) {
    if (!setup.isValid(expires, sig) || await setup.adminExists()) throw new NotFoundError('not_found', tr(ctx, 'pages.setup.link_invalid'));
  }

  const page = (ctx: Context, values: Record<string, string | undefined>, errors: Record<string, string> = {}, status = 200) =>
    render(ctx, 'setup', { title: tr(ctx, 'pages.setup.title'), values, errors, meter: meterSettings({ ...config.passwordPolicy, minLength: config.passwordPolicy.minLengthWithMfa }) }, status);

  router.get('/', async (ctx) => {
    const expires = typeof ctx.query.expires === 'string' ? ctx.query.expires : undefined;
    const sig = typeof ctx.query.sig === 'string' ? ctx.query.sig : undefined;
    await guard(ctx, expires, sig);
    await page(ctx, { expires, sig });
  });

  router.post('/', async (ctx) => {
    const form = await readForm(ctx);
    csrf.verify(ctx, form.csrf);
    await guard(ctx, form.expires, form.sig);
    const parsed = setupForm.safeParse(form);
    if (!parsed.success) {
      return page(ctx, form,
        translateErrors(ctx, { email: 'pages.common.required_field', ...fieldErrors(parsed.error) }), 400);
    }
    try {
      await setup.createFirstAdmin(parsed.data, flowContext(ctx));
    } catch (error) {
      if (error instanceof PasswordRejectedError) return page(ctx, form, { password: passwordProblemText(ctx, error.problems) }, 400);
      if (error instanceof EmailRefusedError) {
        return page(ctx, form, { email: tr(ctx, emailRefusalMessageKey(error.code)) }, 400);
      }
      throw error;
    }
    await render(ctx, 'interaction/message', {
      title: tr(ctx, 'pages.setup.done_title'), heading: tr(ctx, 'pages.setup.done_title'), message: tr(ctx, 'pages.setup.done_body'),
      continueHref: '/account/security', continueLabel: tr(ctx, 'pages.common.continue'),
    });
  });

  return router;
}
