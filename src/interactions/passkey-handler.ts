import type { Context } from 'koa';
import { errors } from 'oidc-provider';
import { z } from 'zod';
import { AppError, ForbiddenError, TooManyRequestsError } from '../errors/app-error.js';
import { SecondFactorLockedError } from '../mfa/second-factor-guard.js';
import type { WebAuthnAuthentication } from '../mfa/webauthn.js';
import { readJson } from '../http/form-body.js';
import type { InteractionDeps } from './interaction-deps.js';
import { loadInteraction } from './load-interaction.js';
import { loginResult, recordStepUp } from './mfa-handler.js';
import { createNewDeviceNotice } from './new-device-notice.js';
import { flowContext, tr } from './page-context.js';
import { lockedMessage } from './second-factor-locked-page.js';

const finishBody = z.object({ handle: z.string().min(1).max(100), response: z.unknown() });

/**
 * Passkeys and security keys in the sign-in, as JSON endpoints for views/static/webauthn.js:
 * passwordless (a user-verified passkey is two factors on its own) and as the second factor.
 */
export function createPasskeyHandlers(deps: InteractionDeps) {
  const { host, csrf, webauthn, accounts, rateLimits, config, secondFactorGuard } = deps;
  const newDeviceNotice = createNewDeviceNotice(deps);

  async function readFinish(ctx: Context) {
    csrf.verify(ctx, ctx.get('x-csrf-token'));
    const parsed = finishBody.safeParse(await readJson(ctx));
    if (!parsed.success) throw new AppError('invalid_request', 400, 'expected { handle, response }');
    return parsed.data;
  }

  async function answer(ctx: Context, result: ReturnType<typeof loginResult>) {
    await newDeviceNotice(ctx, result.login.accountId);
    const redirect = await host.provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: false });
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { redirect };
  }

  async function pendingMfa(ctx: Context) {
    const loaded = await loadInteraction(host, ctx, 'login');
    if (loaded.pending?.step !== 'mfa') throw new errors.InvalidRequest('no second factor is pending for this sign-in');
    return { ...loaded, pending: loaded.pending };
  }

  return {
    async passwordlessOptions(ctx: Context) {
      csrf.verify(ctx, ctx.get('x-csrf-token'));
      await loadInteraction(host, ctx, 'login');
      ctx.set('Cache-Control', 'no-store');
      ctx.body = await webauthn.authenticationOptions();
    },

    async passwordless(ctx: Context) {
      const { client } = await loadInteraction(host, ctx, 'login');
      const body = await readFinish(ctx);
      await rateLimits.consume('loginPerIp', ctx.state.clientIp ?? 'unknown');
      const result = await webauthn.finishAuthentication(body.handle, body.response as never, flowContext(ctx, client.clientId));
      const account = await accounts.findById(result.accountId);
      if (!account || account.disabledAt) throw new ForbiddenError('account_unavailable', tr(ctx, 'pages.login.invalid_credentials'));
      const mayBeUnverified = client['allow_unverified_email'] === true || !config.accounts.requireVerifiedEmail;
      if (!account.emailVerified && !mayBeUnverified) {
        throw new ForbiddenError('email_not_verified', tr(ctx, 'pages.unverified.body', { client: client.clientName ?? client.clientId, email: account.email }));
      }
      await answer(ctx, loginResult({ accountId: account.id, remember: false, amr: [] }, result.amr));
    },

    async secondFactorOptions(ctx: Context) {
      csrf.verify(ctx, ctx.get('x-csrf-token'));
      const { pending } = await pendingMfa(ctx);
      ctx.set('Cache-Control', 'no-store');
      ctx.body = await webauthn.authenticationOptions(pending.accountId);
    },

    async secondFactor(ctx: Context) {
      const { details, pending } = await pendingMfa(ctx);
      const body = await readFinish(ctx);
      await rateLimits.consume('mfaPerAccount', pending.accountId);
      const account = await accounts.findById(pending.accountId);
      if (!account || account.disabledAt) {
        throw new ForbiddenError('account_unavailable', tr(ctx, 'pages.login.invalid_credentials'));
      }
      const context = flowContext(ctx, String(details.params.client_id));
      let result: WebAuthnAuthentication | undefined;
      try {
        // A failed assertion counts towards the account's one second-factor lockout, like a wrong code.
        await secondFactorGuard.attempt(account, 'webauthn', context, async () => {
          result = await webauthn.finishAuthentication(body.handle, body.response as never, context, pending.accountId);
          return true;
        });
      } catch (error) {
        if (error instanceof SecondFactorLockedError) {
          throw new TooManyRequestsError(error.retryAfterSeconds, lockedMessage(ctx, error));
        }
        throw error;
      }
      if (!result) throw new AppError('webauthn_failed', 400);
      if (pending.stepUp) await recordStepUp(deps, ctx, pending.accountId, result.amr);
      await answer(ctx, loginResult(pending, result.amr));
    },
  };
}
