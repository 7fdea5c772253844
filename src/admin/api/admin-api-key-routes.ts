import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import type { ApiKeyService } from '../../api-keys/api-key-service.js';
import { apiKeyOwnerTypes } from '../../api-keys/api-key.entity.js';
import { BadRequestError } from '../../errors/app-error.js';
import { adminActor } from './admin-auth.js';
import { defineRoute, type RegisteredRoute } from './admin-route.js';
import { decodeCursor, encodeCursor, pageOf, pageQuery, toJson } from './admin-schemas.js';

type Auth = (ctx: Context, next: () => Promise<void>) => Promise<void>;

const timestamp = z.string().describe('ISO 8601');
const idParams = z.object({ apiKeyId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'not an API key id') });

/** An API key as the admin API shows it: never its secret or digest. */
export const apiKeySchema = z.object({
  id: z.string(),
  ownerType: z.enum(apiKeyOwnerTypes),
  clientId: z.string().nullable(),
  accountId: z.string().nullable(),
  name: z.string(),
  scopes: z.array(z.string()),
  api: z.string().nullable(),
  expiresAt: timestamp.nullable(),
  lastUsedAt: timestamp.nullable(),
  lastUsedIp: z.string().nullable(),
  revokedAt: timestamp.nullable(),
  createdAt: timestamp,
  createdBy: z.string(),
});

/** A new or rotated key with its full value: the only answers that carry `token`. */
export const apiKeyWithTokenSchema = z.object({ key: apiKeySchema, token: z.string() });

/** Exactly one owner: a service client (`clientId`) or an account (`accountId`, its id or email). */
export const apiKeyCreateSchema = z.strictObject({
  clientId: z.string().min(1).max(200).optional(),
  accountId: z.string().min(1).max(320).optional(),
  name: z.string().trim().min(1).max(200),
  scopes: z.array(z.string().max(200)).max(50).optional(),
  api: z.string().max(2000).nullable().optional(),
  expiresAt: z.iso.datetime({ offset: true }).nullable().optional(),
});

/** /api-keys: list (by owner), read, create (the token is shown once), revoke, rotate. */
export function registerApiKeyRoutes(router: Router, registry: RegisteredRoute[], auth: Auth, apiKeys: ApiKeyService): void {
  const represent = (key: unknown) => apiKeySchema.parse(toJson(key));
  const apiKey = { name: 'ApiKey', schema: apiKeySchema };
  const withToken = { name: 'ApiKeyWithToken', schema: apiKeyWithTokenSchema };

  defineRoute(router, registry, auth, {
    method: 'get', path: '/api-keys', summary: 'List API keys, oldest first; filter by owner with ?clientId= or ?accountId=', scope: 'admin:read', errors: [422],
    query: z.object({ ...pageQuery, clientId: z.string().min(1).max(200).optional(), accountId: z.uuid().optional() }),
    response: { name: 'ApiKeyPage', schema: pageOf(apiKeySchema) },
    // Keys are made by hand and few per owner, so the page is cut in memory; the cursor is the last id.
    async handle({ query }) {
      const all = await apiKeys.list({ clientId: query.clientId, accountId: query.accountId });
      const after = decodeCursor(query.cursor);
      const start = after === undefined ? 0 : all.findIndex((key) => key.id === after) + 1;
      const items = all.slice(start, start + query.limit);
      return { items: items.map(represent), nextCursor: start + query.limit < all.length ? encodeCursor(items.at(-1)!.id) : null };
    },
  });

  defineRoute(router, registry, auth, {
    method: 'get', path: '/api-keys/:apiKeyId', summary: 'Read an API key (never its secret)', scope: 'admin:read', errors: [404, 422], etag: true,
    params: idParams, response: apiKey,
    handle: async ({ params }) => represent(await apiKeys.show(params.apiKeyId)),
  });

  defineRoute(router, registry, auth, {
    method: 'post', path: '/api-keys', summary: 'Create an API key for a service client or an account; its token is shown only here', scope: 'admin:write',
    errors: [400, 404, 415, 422], status: 201,
    body: { name: 'ApiKeyCreate', schema: apiKeyCreateSchema }, response: withToken,
    async handle({ body, admin, ctx }) {
      if (Boolean(body.clientId) === Boolean(body.accountId)) throw new BadRequestError('invalid_owner', 'give exactly one of clientId (a service client) or accountId (an account)');
      const owner = body.clientId ? { type: 'service' as const, clientId: body.clientId } : { type: 'account' as const, accountId: body.accountId! };
      const { key, token } = await apiKeys.create({
        owner, name: body.name, scopes: body.scopes, api: body.api ?? null, expiresAt: body.expiresAt ? new Date(body.expiresAt) : null,
      }, adminActor(admin));
      ctx.set('Location', `${ctx.path}/${key.id}`);
      return { key: represent(key), token };
    },
  });

  defineRoute(router, registry, auth, {
    method: 'post', path: '/api-keys/:apiKeyId/revoke', summary: 'Revoke an API key for good (revoking twice changes nothing)', scope: 'admin:write',
    errors: [404, 422], params: idParams, response: apiKey,
    handle: async ({ params, admin }) => represent(await apiKeys.revoke(params.apiKeyId, adminActor(admin))),
  });

  defineRoute(router, registry, auth, {
    method: 'post', path: '/api-keys/:apiKeyId/rotate', summary: 'Give an API key a new secret; the old value stops working at once', scope: 'admin:write',
    errors: [404, 422], params: idParams, response: withToken,
    async handle({ params, admin }) {
      const { key, token } = await apiKeys.rotate(params.apiKeyId, adminActor(admin));
      return { key: represent(key), token };
    },
  });
}
