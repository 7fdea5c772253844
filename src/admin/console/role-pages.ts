import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import { AppError } from '../../errors/app-error.js';
import { fieldErrors } from '../../interactions/form-schemas.js';
import { tr, translateErrors } from '../../interactions/page-context.js';
import type { RoleDetail, RoleHolder } from '../../rbac/rbac-service.js';
import { roleNamePattern } from '../../rbac/rbac-service.js';
import { adminRole } from '../api/admin-api.js';
import { param, refusal, refusalText, type ConsoleDeps, type ConsoleKit } from './console-kit.js';

const roleName = z.string().regex(roleNamePattern);
const holderPageSize = 25;
const holdersQuery = z.object({ after: z.string().max(320).optional().catch(undefined) });
const createForm = z.object({
  name: z.string().trim().regex(roleNamePattern, 'pages.admin.roles.name_invalid'),
  description: z.string().trim().max(500, 'pages.admin.roles.description_too_long').optional(),
});
const descriptionForm = z.object({ description: z.string().trim().max(500, 'pages.admin.roles.description_too_long').optional() });
const permissionsForm = z.object({ api: z.string().min(1).max(2000) });
const holderForm = z.object({ kind: z.enum(['account', 'client']), holder: z.string().trim().min(1, 'pages.admin.roles.holder_required').max(320) });

/** /admin/roles: list and create roles; per role its permissions per API, description, holders; delete. */
export function registerRolePages(router: Router, kit: ConsoleKit, { container }: ConsoleDeps): void {
  const { rbac, apis } = container;

  const listPage = async (ctx: Context, values: Record<string, string | undefined> = {}, errors: Record<string, string> = {}, formError?: string, status = 200) =>
    kit.page(ctx, 'roles', 'roles', 'pages.admin.roles.title', { roles: await rbac.overview(), values, errors, formError }, status);

  async function rolePage(ctx: Context, role: RoleDetail, locals: Record<string, unknown> = {}, status = 200) {
    // The admin API's scopes come with the admin role itself, never from grants (admin-api.ts).
    const grantable = (await apis.list()).filter((api) => api.source !== 'builtin');
    const held = (api: string) => role.permissions.find((entry) => entry.api === api)?.permissions ?? [];
    const sections = grantable.map((api) => ({ api, held: held(api.identifier), scopes: [...new Set([...api.scopes, ...held(api.identifier)])] }));
    // Permissions left on an API that is no longer registered can still be removed.
    const orphans = role.permissions.filter((entry) => !grantable.some((api) => api.identifier === entry.api));
    // The accounts holding the role come a page at a time (by email, `?after=`); after a refused POST, the first page.
    const after = ctx.method === 'GET' ? holdersQuery.parse(ctx.query).after : undefined;
    const holders = await rbac.holders(role.name, { limit: holderPageSize, after });
    const base = `/admin/roles/${role.name}`;
    const paging = { first: after ? base : undefined, next: holders.next ? `${base}?${new URLSearchParams({ after: holders.next })}` : undefined };
    await kit.page(ctx, 'roles', 'role', 'pages.admin.roles.role_title', { role, sections, orphans, holders, paging, values: {}, errors: {}, ...locals }, status);
  }

  router.get('/roles', (ctx) => listPage(ctx));

  router.post('/roles', async (ctx) => {
    const form = await kit.postedForm(ctx);
    const parsed = createForm.safeParse(form);
    if (!parsed.success) return listPage(ctx, form, translateErrors(ctx, fieldErrors(parsed.error)), tr(ctx, 'pages.admin.fix_errors'), 400);
    try {
      const role = await rbac.create(parsed.data.name, parsed.data.description, kit.actor(ctx));
      kit.seeOther(ctx, `/admin/roles/${role.name}`, 'created');
    } catch (error) {
      const refused = refusal(error);
      const errors: Record<string, string> = refused.code === 'role_exists' ? { name: tr(ctx, 'pages.admin.roles.exists') } : {};
      return listPage(ctx, form, errors, refused.code === 'role_exists' ? tr(ctx, 'pages.admin.fix_errors') : refusalText(ctx, refused), 400);
    }
  });

  router.get('/roles/:name', async (ctx) => rolePage(ctx, await rbac.show(param(ctx, 'name', roleName))));

  router.post('/roles/:name/description', async (ctx) => {
    const form = await kit.postedForm(ctx);
    const role = await rbac.show(param(ctx, 'name', roleName));
    const parsed = descriptionForm.safeParse(form);
    if (!parsed.success) return rolePage(ctx, role, { values: form, errors: translateErrors(ctx, fieldErrors(parsed.error)), formError: tr(ctx, 'pages.admin.fix_errors') }, 400);
    await rbac.update(role.name, { description: parsed.data.description ?? null }, kit.actor(ctx));
    kit.seeOther(ctx, `/admin/roles/${role.name}`, 'saved');
  });

  // One form per API: its checkboxes (perm:<scope>) are the role's whole set of permissions there.
  router.post('/roles/:name/permissions', async (ctx) => {
    const form = await kit.postedForm(ctx);
    const role = await rbac.show(param(ctx, 'name', roleName));
    const parsed = permissionsForm.safeParse(form);
    if (!parsed.success) return rolePage(ctx, role, { formError: tr(ctx, 'pages.admin.roles.api_required') }, 400);
    const wanted = Object.keys(form).filter((key) => key.startsWith('perm:') && form[key] === 'on').map((key) => key.slice('perm:'.length));
    try {
      await rbac.setPermissions(role.name, parsed.data.api, wanted, kit.actor(ctx));
    } catch (error) {
      return rolePage(ctx, role, { formError: refusalText(ctx, error) }, 400);
    }
    kit.seeOther(ctx, `/admin/roles/${role.name}`, 'saved');
  });

  for (const change of ['assign', 'unassign'] as const) {
    router.post(`/roles/:name/${change}`, async (ctx) => {
      const form = await kit.postedForm(ctx);
      const role = await rbac.show(param(ctx, 'name', roleName));
      const parsed = holderForm.safeParse(form);
      if (!parsed.success) return rolePage(ctx, role, { values: form, failed: change, errors: translateErrors(ctx, fieldErrors(parsed.error)), formError: tr(ctx, 'pages.admin.fix_errors') }, 400);
      const holder: RoleHolder = parsed.data.kind === 'client' ? { client: parsed.data.holder } : { account: parsed.data.holder };
      try {
        if (change === 'assign') await rbac.assign(role.name, holder, kit.actor(ctx));
        else await rbac.unassign(role.name, holder, kit.actor(ctx));
      } catch (error) {
        // An unknown holder is the form's fault here, not a missing page.
        const known = error instanceof AppError && (error.code === 'account_not_found' || error.code === 'client_not_found');
        const message = known ? tr(ctx, 'pages.admin.roles.holder_not_found') : refusalText(ctx, error);
        return rolePage(ctx, role, { values: form, failed: change, errors: { holder: message }, formError: tr(ctx, 'pages.admin.fix_errors') }, 400);
      }
      kit.seeOther(ctx, `/admin/roles/${role.name}`, 'saved');
    });
  }

  router.get('/roles/:name/delete', async (ctx) => {
    const role = await rbac.show(param(ctx, 'name', roleName));
    await kit.page(ctx, 'roles', 'confirm', 'pages.admin.roles.delete_title', {
      question: tr(ctx, 'pages.admin.roles.delete_question', { name: role.name, accounts: role.holders.accounts, clients: role.holders.clients }),
      action: `/admin/roles/${role.name}/delete`, confirmLabel: tr(ctx, 'pages.admin.roles.delete'), backHref: `/admin/roles/${role.name}`,
    });
  });

  router.post('/roles/:name/delete', async (ctx) => {
    await kit.postedForm(ctx);
    const role = await rbac.show(param(ctx, 'name', roleName));
    // Without the admin role nobody could open the console again; the CLI can still delete it.
    if (role.name === adminRole) return rolePage(ctx, role, { formError: tr(ctx, 'pages.admin.roles.keep_admin') }, 400);
    await rbac.delete(role.name, kit.actor(ctx));
    kit.seeOther(ctx, '/admin/roles', 'deleted');
  });
}
