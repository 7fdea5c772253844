import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import type { AccountService } from '../../accounts/account-service.js';
import { NotFoundError } from '../../errors/app-error.js';
import { adminActor } from './admin-auth.js';
import { defineRoute, type RegisteredRoute } from './admin-route.js';
import { accountCreateSchema, accountSchema, decodeCursor, encodeCursor, pageOf, pageQuery, toJson } from './admin-schemas.js';

const idParams = z.object({ accountId: z.uuid() });
type Auth = (ctx: Context, next: () => Promise<void>) => Promise<void>;

/** /accounts: list and search, read, create, disable and enable. */
export function registerAccountRoutes(router: Router, registry: RegisteredRoute[], auth: Auth, accounts: AccountService): void {
  const represent = (account: unknown) => accountSchema.parse(toJson(account));

  defineRoute(router, registry, auth, {
    method: 'get', path: '/accounts', summary: 'List accounts by email, or find one with ?email=', scope: 'admin:read', errors: [422],
    query: z.object({ ...pageQuery, email: z.email().optional() }),
    response: { name: 'AccountPage', schema: pageOf(accountSchema) },
    async handle({ query }) {
      if (query.email) {
        const found = await accounts.show(query.email).catch((error: unknown) => {
          if (error instanceof NotFoundError) return undefined;
          throw error;
        });
        return { items: found ? [represent(found)] : [], nextCursor: null };
      }
      // One more than asked tells whether another page exists; the cursor is the last email.
      const page = await accounts.list(query.limit + 1, decodeCursor(query.cursor));
      const items = page.slice(0, query.limit);
      return { items: items.map(represent), nextCursor: page.length > query.limit ? encodeCursor(items.at(-1)!.email) : null };
    },
  });

  defineRoute(router, registry, auth, {
    method: 'get', path: '/accounts/:accountId', summary: 'Read an account', scope: 'admin:read', errors: [404, 422], etag: true,
    params: idParams, response: { name: 'Account', schema: accountSchema },
    handle: async ({ params }) => represent(await accounts.show(params.accountId)),
  });

  defineRoute(router, registry, auth, {
    method: 'post', path: '/accounts', summary: 'Create an account', scope: 'admin:write', errors: [400, 409, 415, 422], status: 201,
    body: { name: 'AccountCreate', schema: accountCreateSchema }, response: { name: 'Account', schema: accountSchema },
    async handle({ body, admin, ctx }) {
      const account = await accounts.create(body, adminActor(admin));
      ctx.set('Location', `${ctx.path}/${account.id}`);
      return represent(account);
    },
  });

  for (const action of ['disable', 'enable'] as const) {
    defineRoute(router, registry, auth, {
      method: 'post', path: `/accounts/:accountId/${action}`, summary: action === 'disable' ? 'Disable an account: no sign-in, its tokens stop working' : 'Enable a disabled account',
      scope: 'admin:write', errors: [404, 422], params: idParams, response: { name: 'Account', schema: accountSchema },
      handle: async ({ params, admin }) => represent(await accounts.setDisabled(params.accountId, action === 'disable', adminActor(admin))),
    });
  }
}
