import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import type { ClientService, ClientView } from '../../clients/client-service.js';
import { clientTypes } from '../../clients/client.entity.js';
import { adminActor } from './admin-auth.js';
import { defineRoute, ifMatch, type RegisteredRoute } from './admin-route.js';
import { clientCreateSchema, clientSchema, clientUpdateSchema, clientWithSecretSchema, decodeCursor, encodeCursor, pageOf, pageQuery, toJson } from './admin-schemas.js';

const idParams = z.object({ clientId: z.string().min(1).max(200) });
type Auth = (ctx: Context, next: () => Promise<void>) => Promise<void>;

/** /clients: list, read, register, change (If-Match), delete, rotate the secret. */
export function registerClientRoutes(router: Router, registry: RegisteredRoute[], auth: Auth, clients: ClientService): void {
  const represent = (client: unknown) => clientSchema.parse(toJson(client));

  defineRoute(router, registry, auth, {
    method: 'get', path: '/clients', summary: 'List clients, oldest first', scope: 'admin:read', errors: [422],
    query: z.object({ ...pageQuery, type: z.enum(clientTypes).optional() }),
    response: { name: 'ClientPage', schema: pageOf(clientSchema) },
    // Clients are few (configured by hand), so the page is cut in memory; the cursor is the last client_id.
    async handle({ query }) {
      const all = (await clients.list()).filter((client) => !query.type || client.type === query.type);
      const after = decodeCursor(query.cursor);
      const start = after === undefined ? 0 : all.findIndex((client) => client.clientId === after) + 1;
      const items = all.slice(start, start + query.limit);
      const more = start + query.limit < all.length;
      return { items: items.map(represent), nextCursor: more ? encodeCursor(items.at(-1)!.clientId) : null };
    },
  });

  defineRoute(router, registry, auth, {
    method: 'get', path: '/clients/:clientId', summary: 'Read a client', scope: 'admin:read', errors: [404], etag: true,
    params: idParams, response: { name: 'Client', schema: clientSchema },
    handle: async ({ params }) => represent(await clients.show(params.clientId)),
  });

  defineRoute(router, registry, auth, {
    method: 'post', path: '/clients', summary: 'Register a client; a confidential one\'s secret is shown only here', scope: 'admin:write', errors: [400, 415, 422], status: 201,
    body: { name: 'ClientCreate', schema: clientCreateSchema }, response: { name: 'ClientWithSecret', schema: clientWithSecretSchema },
    async handle({ body, admin, ctx }) {
      const { client, secret } = await clients.create(body, adminActor(admin));
      ctx.set('Location', `${ctx.path}/${client.clientId}`);
      return { client: represent(client), ...(secret ? { clientSecret: secret } : {}) };
    },
  });

  defineRoute(router, registry, auth, {
    method: 'patch', path: '/clients/:clientId', summary: 'Change a client (send If-Match with its ETag)', scope: 'admin:write', errors: [400, 404, 412, 415, 422, 428], etag: true,
    params: idParams, body: { name: 'ClientUpdate', schema: clientUpdateSchema }, response: { name: 'Client', schema: clientSchema },
    async handle({ params, body, admin, ctx }) {
      // Checked on the locked row inside the update's transaction: concurrent changes with one ETag give one 200 and 412s.
      const precondition = ifMatch(ctx, (current: ClientView) => represent(current));
      await clients.update(params.clientId, body, adminActor(admin), { precondition });
      // Read back: the stored updatedAt is part of the representation, so the new ETag matches the next GET.
      return represent(await clients.show(params.clientId));
    },
  });

  defineRoute(router, registry, auth, {
    method: 'delete', path: '/clients/:clientId', summary: 'Delete a client', scope: 'admin:write', errors: [404], params: idParams,
    handle: async ({ params, admin }) => clients.delete(params.clientId, adminActor(admin)),
  });

  defineRoute(router, registry, auth, {
    method: 'post', path: '/clients/:clientId/rotate-secret', summary: 'Replace a confidential client\'s secret; the old one stops working', scope: 'admin:write', errors: [404, 422],
    params: idParams, response: { name: 'ClientWithSecret', schema: clientWithSecretSchema },
    async handle({ params, admin }) {
      const { client, secret } = await clients.rotateSecret(params.clientId, adminActor(admin));
      return { client: represent(client), clientSecret: secret };
    },
  });
}
