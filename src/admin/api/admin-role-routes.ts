import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import { ConflictError } from '../../errors/app-error.js';
import type { RbacService, RoleDetail } from '../../rbac/rbac-service.js';
import { adminRole } from './admin-api.js';
import { adminActor } from './admin-auth.js';
import { defineRoute, ifMatch, type RegisteredRoute } from './admin-route.js';
import { decodeCursor, encodeCursor, pageOf, pageQuery, toJson } from './admin-schemas.js';

type Auth = (ctx: Context, next: () => Promise<void>) => Promise<void>;

const roleName = z.string().regex(/^[a-z][a-z0-9_.-]{0,63}$/, 'a role name is 1-64 characters of a-z, 0-9, _ . - and starts with a letter');
const nameParams = z.object({ name: roleName });
const scopeToken = z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/, 'not a scope token').max(200);

/** A role as the admin API shows it: its permissions per API, and how many accounts and clients hold it. */
export const roleSchema = z.object({
  name: z.string(),
  description: z.string().nullable(),
  createdAt: z.string().describe('ISO 8601'),
  permissions: z.array(z.object({ api: z.string(), permissions: z.array(z.string()) })),
  holders: z.object({ accounts: z.number().int(), clients: z.number().int() }),
});

export const roleCreateSchema = z.strictObject({ name: roleName, description: z.string().max(500).optional() });
export const roleUpdateSchema = z.strictObject({ description: z.string().max(500).nullable() }).partial();
/** PUT /roles/{name}/permissions/{api}: the role's whole set of permissions on that API afterwards. */
export const rolePermissionsSchema = z.strictObject({ permissions: z.array(scopeToken).max(100) });

/** /roles: list, read, create, describe (If-Match), delete, and set a role's permissions per API (If-Match). */
export function registerRoleRoutes(router: Router, registry: RegisteredRoute[], auth: Auth, rbac: RbacService): void {
  const represent = (role: unknown) => roleSchema.parse(toJson(role));
  const role = { name: 'Role', schema: roleSchema };

  defineRoute(router, registry, auth, {
    method: 'get', path: '/roles', summary: 'List roles by name, with their permissions and holder counts', scope: 'admin:read', errors: [422],
    query: z.object(pageQuery), response: { name: 'RolePage', schema: pageOf(roleSchema) },
    // Roles are few (made by hand), so the page is cut in memory; the cursor is the last name.
    async handle({ query }) {
      const all = await rbac.overview();
      const after = decodeCursor(query.cursor);
      const rest = after === undefined ? all : all.filter((candidate) => candidate.name > after);
      const items = rest.slice(0, query.limit);
      return { items: items.map(represent), nextCursor: rest.length > query.limit ? encodeCursor(items.at(-1)!.name) : null };
    },
  });

  defineRoute(router, registry, auth, {
    method: 'get', path: '/roles/:name', summary: 'Read a role', scope: 'admin:read', errors: [404, 422], etag: true,
    params: nameParams, response: role,
    handle: async ({ params }) => represent(await rbac.show(params.name)),
  });

  defineRoute(router, registry, auth, {
    method: 'post', path: '/roles', summary: 'Create a role', scope: 'admin:write', errors: [400, 409, 415, 422], status: 201, etag: true,
    body: { name: 'RoleCreate', schema: roleCreateSchema }, response: role,
    async handle({ body, admin, ctx }) {
      await rbac.create(body.name, body.description, adminActor(admin));
      ctx.set('Location', `${ctx.path}/${body.name}`);
      return represent(await rbac.show(body.name));
    },
  });

  defineRoute(router, registry, auth, {
    method: 'patch', path: '/roles/:name', summary: 'Change a role\'s description (send If-Match with its ETag)', scope: 'admin:write',
    errors: [400, 404, 412, 415, 422, 428], etag: true,
    params: nameParams, body: { name: 'RoleUpdate', schema: roleUpdateSchema }, response: role,
    async handle({ params, body, admin, ctx }) {
      const precondition = ifMatch(ctx, (current: RoleDetail) => represent(current));
      return represent(await rbac.update(params.name, body, adminActor(admin), { precondition }));
    },
  });

  defineRoute(router, registry, auth, {
    method: 'delete', path: '/roles/:name', summary: 'Delete a role with its permissions and assignments (not the admin role)', scope: 'admin:write',
    errors: [404, 409, 422], params: nameParams,
    async handle({ params, admin }) {
      // Deleting it over this API would take the caller's own access away; the CLI still can.
      if (params.name === adminRole) throw new ConflictError('role_protected', `the ${adminRole} role grants access to this API and cannot be deleted through it`);
      await rbac.delete(params.name, adminActor(admin));
    },
  });

  defineRoute(router, registry, auth, {
    method: 'put', path: '/roles/:name/permissions/:api',
    summary: 'Replace the role\'s permissions on one API (the resource indicator, percent-encoded); send If-Match with the role\'s ETag',
    scope: 'admin:write', errors: [400, 404, 412, 415, 422, 428], etag: true,
    params: z.object({ name: roleName, api: z.string().min(1).max(2000) }),
    body: { name: 'RolePermissions', schema: rolePermissionsSchema }, response: role,
    async handle({ params, body, admin, ctx }) {
      const precondition = ifMatch(ctx, (current: RoleDetail) => represent(current));
      return represent(await rbac.setPermissions(params.name, params.api, body.permissions, adminActor(admin), { precondition }));
    },
  });
}
