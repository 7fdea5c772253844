import Router from '@koa/router';
import { errors } from 'oidc-provider';
import type { InteractionDeps } from './interaction-deps.js';
import { createConsentHandlers } from './consent-handler.js';
import { loadInteraction } from './load-interaction.js';
import { createLoginHandlers } from './login-handler.js';
import { createMfaHandlers } from './mfa-handler.js';
import { createPasskeyHandlers } from './passkey-handler.js';
import { createRegisterHandlers } from './register-handler.js';

/** The hosted sign-in: /interaction/:uid and its steps. */
export function createInteractionRouter(deps: InteractionDeps): Router {
  const { host, csrf } = deps;
  const router = new Router({ prefix: '/interaction' });
  const mfa = createMfaHandlers(deps);
  const login = createLoginHandlers(deps, mfa);
  const passkey = createPasskeyHandlers(deps);
  const register = createRegisterHandlers(deps);
  const consent = createConsentHandlers(deps);

  router.use(async (ctx, next) => {
    ctx.set('Cache-Control', 'no-store');
    await next();
  });
  router.use(csrf.issue);

  router.get('/:uid', async (ctx) => {
    const { details, client, pending } = await loadInteraction(host, ctx);
    if (details.prompt.name === 'login') {
      if (await mfa.resume(ctx, details, pending)) return;
      if (pending?.step === 'change_password') {
        const account = await deps.accounts.findById(pending.accountId);
        if (account) return login.renderNewPassword(ctx, details.uid, account.email);
      }
      return login.renderLogin(ctx, details.uid, client.clientName, {});
    }
    if (details.prompt.name === 'consent') return consent.show(ctx, details, client);
    throw new errors.InvalidRequest(`unsupported prompt: ${details.prompt.name}`);
  });
  router.post('/:uid/login', login.login);
  router.post('/:uid/new-password', login.newPassword);
  router.post('/:uid/mfa', mfa.verify);
  router.post('/:uid/mfa/send', mfa.sendCode);
  router.post('/:uid/mfa/webauthn/options', passkey.secondFactorOptions);
  router.post('/:uid/mfa/webauthn', passkey.secondFactor);
  router.post('/:uid/passkey/options', passkey.passwordlessOptions);
  router.post('/:uid/passkey', passkey.passwordless);
  router.post('/:uid/mfa/enrol', mfa.confirmEnrolment);
  router.post('/:uid/mfa/done', mfa.done);
  router.get('/:uid/register', register.show);
  router.post('/:uid/register', register.submit);
  router.post('/:uid/resend', register.resend);
  router.post('/:uid/confirm', consent.confirm);
  router.get('/:uid/abort', async (ctx) => {
    await loadInteraction(host, ctx);
    await host.provider.interactionFinished(ctx.req, ctx.res, {
      error: 'access_denied', error_description: 'End-User aborted interaction',
    }, { mergeWithLastSubmission: false });
  });

  return router;
}
