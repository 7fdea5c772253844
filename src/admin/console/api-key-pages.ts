import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import type { ApiKeyView } from '../../api-keys/api-key-service.js';
import { scopeTokenPattern } from '../../apis/api-schema.js';
import { AppError } from '../../errors/app-error.js';
import { fieldErrors } from '../../interactions/form-schemas.js';
import { tr, translateErrors } from '../../interactions/page-context.js';
import { param, refusal, refusalText, type ConsoleDeps, type ConsoleKit } from './console-kit.js';

const keyId = z.string().regex(/^[0-9a-f]{20}$/);
const createForm = z.object({
  clientId: z.string().min(1, 'pages.admin.api_keys.client_required').max(200),
  name: z.string().trim().min(1, 'pages.admin.api_keys.name_required').max(200, 'pages.admin.api_keys.name_required'),
  api: z.string().max(2000).optional(),
  scopes: z.string().max(10_000).optional()
    .transform((text) => [...new Set((text ?? '').split(/\s+/).filter(Boolean))])
    .refine((scopes) => scopes.every((scope) => scopeTokenPattern.test(scope)), 'pages.admin.api_keys.scopes_invalid'),
  // A date input: the key stops working at the start of that day (UTC).
  expires: z.union([z.literal(''), z.iso.date('pages.admin.api_keys.expiry_invalid')]).optional(),
});

/** Where a refusal of the service belongs on the form. */
const fieldOf: Record<string, string> = { invalid_scope: 'scopes', invalid_api: 'api', invalid_expiry: 'expires', invalid_owner: 'clientId', client_not_found: 'clientId', invalid_name: 'name' };

/** A key's state at a glance: revoked, expired or active. */
export function keyStatus(key: Pick<ApiKeyView, 'revokedAt' | 'expiresAt'>, now = new Date()): 'revoked' | 'expired' | 'active' {
  if (key.revokedAt) return 'revoked';
  return key.expiresAt && key.expiresAt.getTime() <= now.getTime() ? 'expired' : 'active';
}

/** /admin/api-keys: every key; service keys created here (the token shown once), revoked, rotated. */
export function registerApiKeyPages(router: Router, kit: ConsoleKit, { container }: ConsoleDeps): void {
  const { apiKeys, clients, apis, accounts } = container;

  /** Who owns each key, by name: its service client or its account. */
  async function owners(keys: ApiKeyView[]): Promise<Map<string, string>> {
    const names = new Map((await clients.list()).map((client) => [client.clientId, client.name]));
    const result = new Map<string, string>();
    for (const key of keys) {
      if (key.clientId) result.set(key.id, names.get(key.clientId) ?? key.clientId);
      else if (key.accountId) result.set(key.id, (await accounts.findById(key.accountId))?.email ?? key.accountId);
    }
    return result;
  }

  async function listPage(ctx: Context, values: Record<string, string | undefined> = {}, errors: Record<string, string> = {}, formError?: string, status = 200) {
    const keys = await apiKeys.list();
    const serviceClients = (await clients.list()).filter((client) => client.type === 'service');
    const apiOptions = (await apis.list()).map((api) => ({ value: api.identifier, label: api.name ? `${api.name} (${api.identifier})` : api.identifier }));
    await kit.page(ctx, 'api-keys', 'api-keys', 'pages.admin.api_keys.title', {
      keys, owners: await owners(keys), status: keyStatus, serviceClients, apiOptions, values, errors, formError,
    }, status);
  }

  async function keyPage(ctx: Context, key: ApiKeyView, locals: Record<string, unknown> = {}, status = 200) {
    await kit.page(ctx, 'api-keys', 'api-key', 'pages.admin.api_keys.key_title', { key, owner: (await owners([key])).get(key.id), state: keyStatus(key), ...locals }, status);
  }

  router.get('/api-keys', (ctx) => listPage(ctx));

  router.post('/api-keys', async (ctx) => {
    const form = await kit.postedForm(ctx);
    const parsed = createForm.safeParse(form);
    if (!parsed.success) return listPage(ctx, form, translateErrors(ctx, fieldErrors(parsed.error)), tr(ctx, 'pages.admin.fix_errors'), 400);
    const { clientId, name, api, scopes, expires } = parsed.data;
    try {
      const { key, token } = await apiKeys.create({
        owner: { type: 'service', clientId }, name, scopes, api: api || null, expiresAt: expires ? new Date(`${expires}T00:00:00Z`) : null,
      }, kit.actor(ctx));
      await kit.showOnce(ctx, `/admin/api-keys/${key.id}`, token);
    } catch (error) {
      const { code } = refusal(error);
      const message = refusalText(ctx, error);
      const field = fieldOf[code];
      return listPage(ctx, form, field ? { [field]: message } : {}, field ? tr(ctx, 'pages.admin.fix_errors') : message, 400);
    }
  });

  router.get('/api-keys/:id', async (ctx) => {
    const key = await apiKeys.show(param(ctx, 'id', keyId));
    await keyPage(ctx, key, { token: await kit.takeOnce(ctx) });
  });

  router.post('/api-keys/:id/revoke', async (ctx) => {
    await kit.postedForm(ctx);
    const key = await apiKeys.revoke(param(ctx, 'id', keyId), kit.actor(ctx));
    kit.seeOther(ctx, `/admin/api-keys/${key.id}`, 'revoked');
  });

  router.post('/api-keys/:id/rotate', async (ctx) => {
    await kit.postedForm(ctx);
    const key = await apiKeys.show(param(ctx, 'id', keyId));
    try {
      const { token } = await apiKeys.rotate(key.id, kit.actor(ctx));
      await kit.showOnce(ctx, `/admin/api-keys/${key.id}`, token);
    } catch (error) {
      if (error instanceof AppError && error.status === 404) throw error;
      await keyPage(ctx, key, { formError: refusalText(ctx, error) }, 400);
    }
  });
}
