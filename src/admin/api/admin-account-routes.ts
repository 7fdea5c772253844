import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import type { AccountService, AccountView } from '../../accounts/account-service.js';
import type { AccountAdminService } from '../account-admin-service.js';
import { NotFoundError } from '../../errors/app-error.js';
import { adminActor, adminAuditActor } from './admin-auth.js';
import { defineRoute, ifMatch, type RegisteredRoute } from './admin-route.js';
import { accountCreateSchema, accountSchema, decodeCursor, encodeCursor, pageOf, pageQuery, toJson } from './admin-schemas.js';
import { apiEmailField } from '../../identifiers/email-field.js';

const idParams = z.object({ accountId: z.uuid() });
type Auth = (ctx: Context, next: () => Promise<void>) => Promise<void>;

const roleName = z.string().regex(/^[a-z][a-z0-9_.-]{0,63}$/);

/** PATCH /accounts/{id}: only the fields sent change; `name: null` (or "") clears the name. */
export const accountUpdateSchema = z.strictObject({
  name: z.string().max(200).nullable(),
  mfaRequired: z.boolean(),
  emailVerified: z.boolean(),
}).partial();

/** PUT /accounts/{id}/roles: the complete set of roles the account holds afterwards. */
export const accountRolesSchema = z.strictObject({ roles: z.array(roleName).max(50) });

export const mfaResetSchema = z.object({ account: accountSchema, factorsRemoved: z.number().int() });
export const sessionsEndedSchema = z.object({ account: accountSchema, sessionsEnded: z.number().int() });

/** /accounts: list and search, read, create, change (If-Match), delete, and the admin actions on one account. */
export function registerAccountRoutes(router: Router, registry: RegisteredRoute[], auth: Auth, accounts: AccountService, accountAdmin: AccountAdminService): void {
  const represent = (account: unknown) => accountSchema.parse(toJson(account));
  /** If-Match against the account's current representation, checked inside the change's transaction. */
  const accountPrecondition = (ctx: Parameters<typeof ifMatch>[0]) => ifMatch<AccountView>(ctx, represent);
  const account = { name: 'Account', schema: accountSchema };

  defineRoute(router, registry, auth, {
    method: 'get', path: '/accounts', summary: 'List accounts by email, or find one with ?email=', scope: 'admin:read', errors: [422],
    query: z.object({ ...pageQuery, email: apiEmailField().optional() }),
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
    params: idParams, response: account,
    handle: async ({ params }) => represent(await accounts.show(params.accountId)),
  });

  defineRoute(router, registry, auth, {
    method: 'post', path: '/accounts', summary: 'Create an account', scope: 'admin:write', errors: [400, 409, 415, 422], status: 201, etag: true,
    body: { name: 'AccountCreate', schema: accountCreateSchema }, response: account,
    async handle({ body, admin, ctx }) {
      const created = await accounts.create(body, adminActor(admin));
      ctx.set('Location', `${ctx.path}/${created.id}`);
      return represent(created);
    },
  });

  defineRoute(router, registry, auth, {
    method: 'patch', path: '/accounts/:accountId', summary: 'Change an account\'s name, MFA requirement or email verification (send If-Match with its ETag)',
    scope: 'admin:write', errors: [400, 404, 412, 415, 422, 428], etag: true,
    params: idParams, body: { name: 'AccountUpdate', schema: accountUpdateSchema }, response: account,
    async handle({ params, body, admin, ctx }) {
      return represent(await accountAdmin.update(params.accountId, body, adminAuditActor(admin, ctx), { precondition: accountPrecondition(ctx) }));
    },
  });

  defineRoute(router, registry, auth, {
    method: 'put', path: '/accounts/:accountId/roles', summary: 'Replace the account\'s roles (send If-Match with the account\'s ETag); unknown roles are 422',
    scope: 'admin:write', errors: [400, 404, 412, 415, 422, 428], etag: true,
    params: idParams, body: { name: 'AccountRoles', schema: accountRolesSchema }, response: account,
    async handle({ params, body, admin, ctx }) {
      return represent(await accountAdmin.setRoles(params.accountId, body.roles, adminAuditActor(admin, ctx), { precondition: accountPrecondition(ctx) }));
    },
  });

  defineRoute(router, registry, auth, {
    method: 'delete', path: '/accounts/:accountId', summary: 'Delete an account: its sessions end (with back-channel logout); its factors, roles and API keys go with it',
    scope: 'admin:write', errors: [404, 422], params: idParams,
    async handle({ params, admin, ctx }) {
      await accountAdmin.delete(params.accountId, adminAuditActor(admin, ctx));
    },
  });

  const actions = [
    ['disable', 'Disable an account: no sign-in, its sessions end (with back-channel logout) and its tokens stop working', accountAdmin.disable],
    ['enable', 'Enable a disabled account', accountAdmin.enable],
    ['unlock', 'Lift the account\'s sign-in lockout and forget its failed attempts', accountAdmin.unlock],
    ['verify-email', 'Mark the account\'s email address as verified', accountAdmin.verifyEmail],
  ] as const;
  for (const [action, summary, run] of actions) {
    defineRoute(router, registry, auth, {
      method: 'post', path: `/accounts/:accountId/${action}`, summary, scope: 'admin:write', errors: [404, 422], etag: true,
      params: idParams, response: account,
      handle: async ({ params, admin, ctx }) => represent(await run(params.accountId, adminAuditActor(admin, ctx))),
    });
  }

  defineRoute(router, registry, auth, {
    method: 'post', path: '/accounts/:accountId/reset-mfa', summary: 'Remove every second factor and recovery code, and end the account\'s sessions',
    scope: 'admin:write', errors: [404, 422], params: idParams, response: { name: 'MfaReset', schema: mfaResetSchema },
    async handle({ params, admin, ctx }) {
      const { account: after, factorsRemoved } = await accountAdmin.resetMfa(params.accountId, adminAuditActor(admin, ctx));
      return { account: represent(after), factorsRemoved };
    },
  });

  defineRoute(router, registry, auth, {
    method: 'post', path: '/accounts/:accountId/end-sessions', summary: 'Sign the account out everywhere: sessions, grants and tokens end; clients get back-channel logout',
    scope: 'admin:write', errors: [404, 422], params: idParams, response: { name: 'SessionsEnded', schema: sessionsEndedSchema },
    async handle({ params, admin, ctx }) {
      const { account: after, sessionsEnded } = await accountAdmin.endSessions(params.accountId, adminAuditActor(admin, ctx));
      return { account: represent(after), sessionsEnded };
    },
  });
}
