import Router from '@koa/router';
import type { Context } from 'koa';
import type { ApiKeyService, ApiKeyView } from '../api-keys/api-key-service.js';
import { AppError, NotFoundError, TooManyRequestsError } from '../errors/app-error.js';
import { readForm } from '../http/form-body.js';
import { failClosed, isRateLimited, type LimiterFactory } from '../infra/rate-limiter-store.js';
import type { InteractionDeps } from '../interactions/interaction-deps.js';
import { tr } from '../interactions/page-context.js';
import { apiChoicesFor, maxExpiryDays, parseNewKey, type ApiChoice, type ApiSource, type PermissionLookup } from './api-key-choices.js';
import { requireRecentAuth } from './recent-auth.js';
import { requireSignedIn } from './signed-in.js';

export interface ApiKeysRouterDeps extends Omit<InteractionDeps, 'apis'> {
  apiKeys: ApiKeyService;
  apis: ApiSource;
  permissions: PermissionLookup;
  limiterFactory: LimiterFactory;
}

const keyId = /^[0-9a-f]{20}$/;

/** New personal keys per account per hour: enough for real use, too few to flood the table. */
export const personalKeyCreationLimit = { points: 10, durationSeconds: 3600 };

/**
 * /account/api-keys: the signed-in person's own API keys (config `apiKeys.personal`). Only keys
 * whose owner is this account are ever listed or touched; any other id reads as unknown (404).
 */
export function createApiKeysRouter(deps: ApiKeysRouterDeps): Router {
  const { csrf, render, config, apiKeys, apis, permissions } = deps;
  const router = new Router({ prefix: '/account/api-keys' });
  const creations = deps.limiterFactory({ name: 'personal-api-key-create', ...personalKeyCreationLimit });

  router.use(async (ctx, next) => {
    // Switched off, the pages don't exist, signed in or not.
    if (!config.apiKeys.personal) throw new NotFoundError('not_found', 'There is nothing at this address.');
    ctx.set('Cache-Control', 'no-store');
    await next();
  });
  router.use(csrf.issue);
  router.use(requireSignedIn(deps));
  // Making or rotating a key hands out a new credential: it needs a recent sign-in
  // (account/recent-auth.ts). Revoking only takes access away, so a stale session may still do it.
  const recent = requireRecentAuth(config, '/account/api-keys');

  const actor = (ctx: Context) => `account:${ctx.state.account.id}`;
  const choices = (ctx: Context) => apiChoicesFor(ctx.state.account.id, { apis, permissions, issuer: config.issuer });

  async function page(ctx: Context, locals: Record<string, unknown> = {}, status = 200) {
    const accountId = ctx.state.account.id;
    const options = await choices(ctx);
    const apiNames = new Map(options.map((api) => [api.identifier, api.name]));
    await render(ctx, 'account/api-keys', {
      title: tr(ctx, 'pages.api_keys.title'), account: ctx.state.account, keys: await apiKeys.list({ accountId }), apis: options, apiNames,
      maxExpiryDays, form: {}, now: new Date(), ...locals,
    }, status);
  }

  /** Shows a key's full value: only right after it was made or rotated, never again. */
  async function showToken(ctx: Context, key: ApiKeyView, token: string, rotated: boolean) {
    await render(ctx, 'account/api-key-created', { title: tr(ctx, rotated ? 'pages.api_keys.rotated_title' : 'pages.api_keys.created_title'), account: ctx.state.account, key, token, rotated });
  }

  async function postedForm(ctx: Context) {
    const form = await readForm(ctx);
    csrf.verify(ctx, form.csrf);
    return form;
  }

  /** One of this person's keys; a malformed, unknown, service or other person's id is the same 404. */
  async function ownKey(ctx: Context): Promise<ApiKeyView> {
    const id = ctx.params.id ?? '';
    const key = keyId.test(id) ? (await apiKeys.list({ accountId: ctx.state.account.id })).find((candidate) => candidate.id === id) : undefined;
    if (!key) throw new NotFoundError('api_key_not_found', tr(ctx, 'pages.api_keys.not_found'));
    return key;
  }

  async function countCreation(accountId: string): Promise<void> {
    try {
      await creations.consume(accountId);
    } catch (error) {
      if (isRateLimited(error)) throw new TooManyRequestsError(error.msBeforeNext / 1000);
      failClosed(error);
    }
  }

  router.get('/', (ctx) => page(ctx, { notice: ctx.query.done === 'revoked' ? tr(ctx, 'pages.api_keys.revoked_notice') : undefined }));

  router.post('/', recent, async (ctx) => {
    const form = await postedForm(ctx);
    const options: ApiChoice[] = await choices(ctx);
    const result = parseNewKey(form, options);
    if ('errors' in result) {
      const errors = Object.fromEntries(Object.entries(result.errors).map(([field, key]) => [field, tr(ctx, key, { max: maxExpiryDays })]));
      return page(ctx, { errors, formError: tr(ctx, 'pages.common.error_summary'), form }, 400);
    }
    await countCreation(ctx.state.account.id);
    const { name, api, scopes, expiresInDays } = result.request;
    const expiresAt = expiresInDays === null ? null : new Date(Date.now() + expiresInDays * 86_400_000);
    try {
      const { key, token } = await apiKeys.create({ owner: { type: 'account', accountId: ctx.state.account.id }, name, api, scopes, expiresAt }, actor(ctx));
      await showToken(ctx, key, token, false);
    } catch (error) {
      // The registry may have changed between the page and the POST; say so on the form.
      if (error instanceof AppError && error.status === 400) return page(ctx, { formError: error.message, form }, 400);
      throw error;
    }
  });

  router.post('/:id/rotate', recent, async (ctx) => {
    await postedForm(ctx);
    const key = await ownKey(ctx);
    if (key.revokedAt) return page(ctx, { formError: tr(ctx, 'pages.api_keys.revoked_cannot_rotate') }, 400);
    const rotated = await apiKeys.rotate(key.id, actor(ctx));
    await showToken(ctx, rotated.key, rotated.token, true);
  });

  router.post('/:id/revoke', async (ctx) => {
    await postedForm(ctx);
    const key = await ownKey(ctx);
    // The service checks the owner again inside its transaction.
    await apiKeys.revoke(key.id, actor(ctx), { accountId: ctx.state.account.id });
    ctx.status = 303;
    ctx.redirect('/account/api-keys?done=revoked');
  });

  return router;
}
