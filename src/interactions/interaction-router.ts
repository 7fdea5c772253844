import Router from '@koa/router';
import type { Context } from 'koa';
import { errors } from 'oidc-provider';
import type { AccountService } from '../accounts/account-service.js';
import type { Csrf } from '../http/csrf.js';
import { readForm } from '../http/form-body.js';
import type { Renderer } from '../http/render.js';
import type { ProviderHost } from '../oidc/provider.js';
import { grantConsent, describeScopes } from './consent.js';
import { confirmForm, loginForm } from './form-schemas.js';

export interface InteractionDeps { host: ProviderHost; accounts: AccountService; csrf: Csrf; render: Renderer }

const invalidCredentials = 'The email or password is incorrect.';

/**
 * Hosted login and consent. Every handler re-reads the interaction from its cookie and checks
 * the URL's uid and the prompt it expects, so a POST out of order can't skip a step.
 */
export function createInteractionRouter({ host, accounts, csrf, render }: InteractionDeps): Router {
  const router = new Router({ prefix: '/interaction' });

  router.use(async (ctx, next) => {
    ctx.set('Cache-Control', 'no-store');
    await next();
  });
  router.use(csrf.issue);

  async function load(ctx: Context, expectedPrompt?: string) {
    const details = await host.provider.interactionDetails(ctx.req, ctx.res);
    if (details.uid !== ctx.params.uid) throw new errors.SessionNotFound('interaction does not match this browser session');
    if (expectedPrompt && details.prompt.name !== expectedPrompt) {
      throw new errors.InvalidRequest(`this step expects the ${details.prompt.name} prompt`);
    }
    const client = await host.provider.Client.find(String(details.params.client_id));
    if (!client) throw new errors.InvalidClient('client not found');
    return { details, client };
  }

  async function renderLogin(ctx: Context, uid: string, clientName: string | undefined, email = '', error = '', status = 200) {
    await render(ctx, 'interaction/login', { title: 'Sign in', uid, clientName, email, error }, status);
  }

  router.get('/:uid', async (ctx) => {
    const { details, client } = await load(ctx);
    if (details.prompt.name === 'login') return renderLogin(ctx, details.uid, client.clientName);
    if (details.prompt.name === 'consent') {
      if (client['first_party'] === true) {
        const grantId = await grantConsent(host.provider, details);
        return host.provider.interactionFinished(ctx.req, ctx.res, { consent: { grantId } }, { mergeWithLastSubmission: true });
      }
      return render(ctx, 'interaction/consent', { title: 'Allow access', uid: details.uid, clientName: client.clientName ?? client.clientId, scopes: describeScopes(details) });
    }
    throw new errors.InvalidRequest(`unsupported prompt: ${details.prompt.name}`);
  });

  router.post('/:uid/login', async (ctx) => {
    const { details, client } = await load(ctx, 'login');
    const form = await readForm(ctx);
    csrf.verify(ctx, form.csrf);
    const parsed = loginForm.safeParse(form);
    if (!parsed.success) return renderLogin(ctx, details.uid, client.clientName, form.email ?? '', parsed.error.issues[0]!.message, 400);
    const account = await accounts.authenticate(parsed.data.email, parsed.data.password, {
      ip: ctx.state.clientIp, userAgent: ctx.get('user-agent'), clientId: client.clientId,
    });
    if (!account) return renderLogin(ctx, details.uid, client.clientName, parsed.data.email, invalidCredentials, 400);
    await host.provider.interactionFinished(ctx.req, ctx.res, {
      login: { accountId: account.id, amr: ['pwd'], ts: Math.floor(Date.now() / 1000) },
    }, { mergeWithLastSubmission: false });
  });

  router.post('/:uid/confirm', async (ctx) => {
    const { details } = await load(ctx, 'consent');
    const form = await readForm(ctx);
    csrf.verify(ctx, confirmForm.parse(form).csrf);
    const grantId = await grantConsent(host.provider, details);
    await host.provider.interactionFinished(ctx.req, ctx.res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  });

  router.get('/:uid/abort', async (ctx) => {
    await load(ctx);
    await host.provider.interactionFinished(ctx.req, ctx.res, {
      error: 'access_denied', error_description: 'End-User aborted interaction',
    }, { mergeWithLastSubmission: false });
  });

  return router;
}
