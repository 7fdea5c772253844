import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import type { RegisteredApi } from '../../apis/api-registry.js';
import { apiIdentifierSchema, maxApiAccessTokenTtl, scopeTokenPattern } from '../../apis/api-schema.js';
import { AppError } from '../../errors/app-error.js';
import { fieldErrors } from '../../interactions/form-schemas.js';
import { tr, translateErrors } from '../../interactions/page-context.js';
import { refusal, refusalText, type ConsoleDeps, type ConsoleKit } from './console-kit.js';

const identifierQuery = z.object({ identifier: apiIdentifierSchema });
const settingsForm = z.object({
  name: z.string().trim().min(1, 'pages.admin.apis.name_required').max(200, 'pages.admin.apis.name_required'),
  scopes: z.string().max(20_000).optional()
    .transform((text) => [...new Set((text ?? '').split(/\s+/).filter(Boolean))])
    .refine((scopes) => scopes.length <= 200 && scopes.every((scope) => scope.length <= 200 && scopeTokenPattern.test(scope)), 'pages.admin.apis.scopes_invalid'),
  accessTokenTtl: z.string().trim().regex(/^\d{1,6}$/, 'pages.admin.apis.ttl_invalid').transform(Number)
    .refine((ttl) => ttl >= 1 && ttl <= maxApiAccessTokenTtl, 'pages.admin.apis.ttl_invalid'),
  rbac: z.literal('on').optional(),
  privileged: z.literal('on').optional(),
});
const createForm = settingsForm.extend({ identifier: z.string().trim().refine((value) => apiIdentifierSchema.safeParse(value).success, 'pages.admin.apis.identifier_invalid') });

/** The catalogue's message for a field the service names in a refusal (`scopes: …`). */
const fieldMessages: Record<string, string> = {
  identifier: 'pages.admin.apis.identifier_invalid', name: 'pages.admin.apis.name_required', scopes: 'pages.admin.apis.scopes_invalid', accessTokenTtl: 'pages.admin.apis.ttl_invalid',
};

const valuesOf = (api: RegisteredApi) => ({
  name: api.name ?? '', scopes: api.scopes.join(' '), accessTokenTtl: String(api.accessTokenTtl),
  rbac: api.rbac ? 'on' : undefined,
  privileged: api.privileged ? 'on' : undefined });
const href = (api: Pick<RegisteredApi, 'identifier'>, action = 'show') => `/admin/apis/${action}?${new URLSearchParams({ identifier: api.identifier })}`;

/** /admin/apis: every API tokens can be issued for; those registered here can be changed and deleted. */
export function registerApiPages(router: Router, kit: ConsoleKit, { container }: ConsoleDeps): void {
  const { apis } = container;

  /** The API an `identifier` query or form field names; a malformed or unknown one is a 404. */
  async function named(ctx: Context, source: Record<string, unknown>): Promise<RegisteredApi> {
    const parsed = identifierQuery.safeParse(source);
    if (!parsed.success) throw new AppError('api_not_found', 404, tr(ctx, 'pages.admin.not_found'));
    return apis.show(parsed.data.identifier);
  }

  const newPage = (ctx: Context, values: Record<string, string | undefined> = { accessTokenTtl: '600' }, errors: Record<string, string> = {}, formError?: string, status = 200) =>
    kit.page(ctx, 'apis', 'api-new', 'pages.admin.apis.new_title', { values, errors, formError }, status);

  const apiPage = (ctx: Context, api: RegisteredApi, locals: Record<string, unknown> = {}, status = 200) =>
    kit.page(ctx, 'apis', 'api', 'pages.admin.apis.api_title', { api, href, values: valuesOf(api), errors: {}, ...locals }, status);

  /** The service's refusal as a field error when it names a field (`scopes: …`), else for the whole form. */
  function refused(ctx: Context, error: unknown): { errors: Record<string, string>; formError: string } {
    const { code, message } = refusal(error);
    if (code === 'api_exists') return { errors: { identifier: tr(ctx, 'pages.admin.apis.exists') }, formError: tr(ctx, 'pages.admin.fix_errors') };
    const field = /^(identifier|name|scopes|accessTokenTtl|rbac): /.exec(message)?.[1];
    if (!field) return { errors: {}, formError: refusalText(ctx, error) };
    return { errors: { [field]: fieldMessages[field] ? tr(ctx, fieldMessages[field]) : message.slice(field.length + 2) }, formError: tr(ctx, 'pages.admin.fix_errors') };
  }

  router.get('/apis', async (ctx) => kit.page(ctx, 'apis', 'apis', 'pages.admin.apis.title', { apis: await apis.list(), href }));

  router.get('/apis/new', (ctx) => newPage(ctx));

  router.post('/apis', async (ctx) => {
    const form = await kit.postedForm(ctx);
    const parsed = createForm.safeParse(form);
    if (!parsed.success) return newPage(ctx, form, translateErrors(ctx, fieldErrors(parsed.error)), tr(ctx, 'pages.admin.fix_errors'), 400);
    const { identifier, name, scopes, accessTokenTtl, rbac, privileged } = parsed.data;
    try {
      const flags = { rbac: rbac === 'on', privileged: privileged === 'on' };
      const api = await apis.create({ identifier, name, scopes, accessTokenTtl, ...flags }, kit.actor(ctx));
      kit.seeOther(ctx, href(api), 'created');
    } catch (error) {
      const { errors, formError } = refused(ctx, error);
      return newPage(ctx, form, errors, formError, 400);
    }
  });

  router.get('/apis/show', async (ctx) => apiPage(ctx, await named(ctx, ctx.query)));

  router.post('/apis/update', async (ctx) => {
    const form = await kit.postedForm(ctx);
    const api = await named(ctx, form);
    const parsed = settingsForm.safeParse(form);
    if (!parsed.success) return apiPage(ctx, api, { values: form, errors: translateErrors(ctx, fieldErrors(parsed.error)), formError: tr(ctx, 'pages.admin.fix_errors') }, 400);
    const { name, scopes, accessTokenTtl, rbac, privileged } = parsed.data;
    try {
      const flags = { rbac: rbac === 'on', privileged: privileged === 'on' };
      await apis.update(api.identifier, { name, scopes, accessTokenTtl, ...flags }, kit.actor(ctx));
    } catch (error) {
      return apiPage(ctx, api, { values: form, ...refused(ctx, error) }, 400);
    }
    kit.seeOther(ctx, href(api), 'saved');
  });

  router.get('/apis/delete', async (ctx) => {
    const api = await named(ctx, ctx.query);
    await kit.page(ctx, 'apis', 'confirm', 'pages.admin.apis.delete_title', {
      question: tr(ctx, 'pages.admin.apis.delete_question', { identifier: api.identifier }), action: href(api, 'delete'),
      confirmLabel: tr(ctx, 'pages.admin.apis.delete'), backHref: href(api),
    });
  });

  router.post('/apis/delete', async (ctx) => {
    await kit.postedForm(ctx);
    const api = await named(ctx, ctx.query);
    try {
      await apis.delete(api.identifier, kit.actor(ctx));
    } catch (error) {
      return apiPage(ctx, api, { formError: refusalText(ctx, error) }, 400);
    }
    kit.seeOther(ctx, '/admin/apis', 'deleted');
  });
}
