import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import type { ApiRegistry, RegisteredApi } from '../../apis/api-registry.js';
import { apiChangesSchema, apiInputSchema } from '../../apis/api-schema.js';
import { adminActor } from './admin-auth.js';
import { defineRoute, ifMatch, type RegisteredRoute } from './admin-route.js';
import { decodeCursor, encodeCursor, pageOf, pageQuery, toJson } from './admin-schemas.js';

const apiSources = ['builtin', 'config', 'database'] as const;
const timestamp = z.string().describe('ISO 8601');

/** An API as the admin API shows it; only `source: database` ones can be changed or deleted. */
export const apiRepresentationSchema = z.object({
  identifier: z.string(),
  name: z.string().nullable(),
  scopes: z.array(z.string()),
  accessTokenTtl: z.number().int(),
  rbac: z.boolean(),
  privileged: z.boolean()
    .describe('tokens only for clients allowed privileged APIs, and for people only after a second factor'),
  source: z.enum(apiSources),
  createdAt: timestamp.nullable(),
  updatedAt: timestamp.nullable(),
});

/** The identifier is a URI, so it travels percent-encoded in the path: /apis/https%3A%2F%2Fapi.example.com. */
const identifierParams = z.object({ identifier: z.string().min(1).max(2000).describe('The API identifier, percent-encoded') });
type Auth = (ctx: Context, next: () => Promise<void>) => Promise<void>;

/** /apis: list, read, register, change (If-Match) and delete APIs (resource indicators). */
export function registerApiRoutes(router: Router, registry: RegisteredRoute[], auth: Auth, apis: ApiRegistry): void {
  const represent = (api: unknown) => apiRepresentationSchema.parse(toJson(api));

  defineRoute(router, registry, auth, {
    method: 'get', path: '/apis', summary: 'List APIs: built-in, from config, then registered', scope: 'admin:read', errors: [422],
    query: z.object({ ...pageQuery, source: z.enum(apiSources).optional() }),
    response: { name: 'ApiPage', schema: pageOf(apiRepresentationSchema) },
    // APIs are few, so the page is cut in memory; the cursor is the last identifier.
    async handle({ query }) {
      const all = (await apis.list()).filter((api) => !query.source || api.source === query.source);
      const after = decodeCursor(query.cursor);
      const start = after === undefined ? 0 : all.findIndex((api) => api.identifier === after) + 1;
      const items = all.slice(start, start + query.limit);
      const more = start + query.limit < all.length;
      return { items: items.map(represent), nextCursor: more ? encodeCursor(items.at(-1)!.identifier) : null };
    },
  });

  defineRoute(router, registry, auth, {
    method: 'get', path: '/apis/:identifier', summary: 'Read an API', scope: 'admin:read', errors: [404], etag: true,
    params: identifierParams, response: { name: 'Api', schema: apiRepresentationSchema },
    handle: async ({ params }) => represent(await apis.show(params.identifier)),
  });

  defineRoute(router, registry, auth, {
    method: 'post', path: '/apis', summary: 'Register an API clients can ask tokens for (resource=<identifier>)', scope: 'admin:write', errors: [400, 409, 415, 422], status: 201,
    body: { name: 'ApiCreate', schema: apiInputSchema }, response: { name: 'Api', schema: apiRepresentationSchema },
    async handle({ body, admin, ctx }) {
      const api = await apis.create(body, adminActor(admin));
      ctx.set('Location', `${ctx.path}/${encodeURIComponent(api.identifier)}`);
      return represent(api);
    },
  });

  defineRoute(router, registry, auth, {
    method: 'patch', path: '/apis/:identifier', summary: 'Change a registered API (send If-Match with its ETag); config and built-in APIs answer 409', scope: 'admin:write',
    errors: [400, 404, 409, 412, 415, 422, 428], etag: true,
    params: identifierParams, body: { name: 'ApiUpdate', schema: apiChangesSchema }, response: { name: 'Api', schema: apiRepresentationSchema },
    async handle({ params, body, admin, ctx }) {
      const precondition = ifMatch(ctx, (current: RegisteredApi) => represent(current));
      return represent(await apis.update(params.identifier, body, adminActor(admin), { precondition }));
    },
  });

  defineRoute(router, registry, auth, {
    method: 'delete', path: '/apis/:identifier', summary: 'Delete a registered API; 409 while roles or API keys use it, or for config and built-in APIs', scope: 'admin:write',
    errors: [404, 409], params: identifierParams,
    handle: async ({ params, admin }) => apis.delete(params.identifier, adminActor(admin)),
  });
}
