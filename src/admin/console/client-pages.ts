import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import type { ClientInput, ClientView } from '../../clients/client-service.js';
import { confidentialTypes } from '../../clients/client-service.js';
import { clientTypes, type ClientType } from '../../clients/client.entity.js';
import { redirectUriProblem } from '../../clients/redirect-uri.js';
import { tr, translateErrors } from '../../interactions/page-context.js';
import { fieldErrors } from '../../interactions/form-schemas.js';
import { lines, param, refusalText, type ConsoleDeps, type ConsoleKit } from './console-kit.js';

const clientId = z.string().regex(/^[\w.-]{1,200}$/);
const checkbox = z.literal('on').optional();
const uriList = z.string().max(20_000, 'pages.admin.clients.too_many_uris').optional();
const settingsForm = z.object({
  name: z.string().trim().min(1, 'pages.admin.clients.name_required').max(200, 'pages.admin.clients.name_required'),
  redirectUris: uriList, postLogoutRedirectUris: uriList,
  firstParty: checkbox, requireMfa: checkbox, allowUnverifiedEmail: checkbox, allowAdminApi: checkbox,
});
const createForm = settingsForm.extend({ type: z.enum(clientTypes, 'pages.admin.clients.type_required') });

/** What the form fields hold, to show them again after a refusal. */
type ClientValues = Record<string, string | undefined>;

/** Field errors for redirect URIs the service would refuse, in the person's language and naming the URI. */
function uriErrors(ctx: Context, type: ClientType, redirectUris: string[], postLogoutRedirectUris: string[]): Record<string, string> {
  const errors: Record<string, string> = {};
  if (type === 'service' && redirectUris.length) errors.redirectUris = tr(ctx, 'pages.admin.clients.service_no_redirect');
  if (type !== 'service' && !redirectUris.length) errors.redirectUris = tr(ctx, 'pages.admin.clients.redirect_required');
  for (const [field, uris] of [['redirectUris', redirectUris], ['postLogoutRedirectUris', postLogoutRedirectUris]] as const) {
    const bad = uris.find((uri) => redirectUriProblem(uri, type));
    if (bad && !errors[field]) errors[field] = tr(ctx, 'pages.admin.clients.uri_invalid', { uri: bad });
  }
  return errors;
}

/** The client form as the service takes it, or the field errors to show. */
function readClientForm(ctx: Context, form: Record<string, string>, type: ClientType | undefined): { input?: Omit<ClientInput, 'type'> & { type?: ClientType }; errors?: Record<string, string> } {
  const parsed = (type ? settingsForm : createForm).safeParse(form);
  if (!parsed.success) return { errors: translateErrors(ctx, fieldErrors(parsed.error)) };
  const data = parsed.data as z.infer<typeof createForm>;
  const input = {
    name: data.name, type: type ?? data.type, redirectUris: lines(data.redirectUris), postLogoutRedirectUris: lines(data.postLogoutRedirectUris),
    firstParty: data.firstParty === 'on', requireMfa: data.requireMfa === 'on', allowUnverifiedEmail: data.allowUnverifiedEmail === 'on',
    allowAdminApi: data.allowAdminApi === 'on',
  };
  const errors = uriErrors(ctx, input.type, input.redirectUris, input.postLogoutRedirectUris);
  return Object.keys(errors).length ? { errors } : { input };
}

const valuesOf = (client: ClientView): ClientValues => ({
  name: client.name, type: client.type, redirectUris: client.redirectUris.join('\n'), postLogoutRedirectUris: client.postLogoutRedirectUris.join('\n'),
  firstParty: client.firstParty ? 'on' : undefined, requireMfa: client.requireMfa ? 'on' : undefined, allowUnverifiedEmail: client.allowUnverifiedEmail ? 'on' : undefined,
  allowAdminApi: client.allowAdminApi ? 'on' : undefined,
});

/** /admin/clients: list, register (secret shown once), settings, rotate the secret, delete. */
export function registerClientPages(router: Router, kit: ConsoleKit, { container }: ConsoleDeps): void {
  const { clients } = container;

  const newPage = (ctx: Context, values: ClientValues = { type: 'web' }, errors: Record<string, string> = {}, formError?: string, status = 200) =>
    kit.page(ctx, 'clients', 'client-new', 'pages.admin.clients.new_title', { values, errors, formError, types: clientTypes }, status);

  async function clientPage(ctx: Context, client: ClientView, locals: Record<string, unknown> = {}, status = 200) {
    await kit.page(ctx, 'clients', 'client', 'pages.admin.clients.client_title', {
      client, values: valuesOf(client), errors: {}, confidential: confidentialTypes.has(client.type), roles: await container.rbac.rolesForClient(client.clientId), ...locals,
    }, status);
  }

  router.get('/clients', async (ctx) => kit.page(ctx, 'clients', 'clients', 'pages.admin.clients.title', { clients: await clients.list() }));

  router.get('/clients/new', (ctx) => newPage(ctx));

  router.post('/clients', async (ctx) => {
    const form = await kit.postedForm(ctx);
    const { input, errors } = readClientForm(ctx, form, undefined);
    if (!input) return newPage(ctx, form, errors, tr(ctx, 'pages.admin.fix_errors'), 400);
    try {
      const { client, secret } = await clients.create(input as ClientInput, kit.actor(ctx));
      const path = `/admin/clients/${client.clientId}`;
      if (secret) return kit.showOnce(ctx, path, secret);
      kit.seeOther(ctx, path, 'created');
    } catch (error) {
      return newPage(ctx, form, {}, refusalText(ctx, error), 400);
    }
  });

  router.get('/clients/:clientId', async (ctx) => {
    const client = await clients.show(param(ctx, 'clientId', clientId));
    await clientPage(ctx, client, { secret: await kit.takeOnce(ctx) });
  });

  router.post('/clients/:clientId', async (ctx) => {
    const form = await kit.postedForm(ctx);
    const client = await clients.show(param(ctx, 'clientId', clientId));
    const { input, errors } = readClientForm(ctx, form, client.type);
    const refused = (formError: string, fields: Record<string, string> = {}) =>
      clientPage(ctx, client, { values: { ...form, type: client.type }, errors: fields, formError }, 400);
    if (!input) return refused(tr(ctx, 'pages.admin.fix_errors'), errors);
    const { type: _fixed, ...changes } = input;
    try {
      await clients.update(client.clientId, changes, kit.actor(ctx));
    } catch (error) {
      return refused(refusalText(ctx, error));
    }
    kit.seeOther(ctx, `/admin/clients/${client.clientId}`, 'saved');
  });

  router.post('/clients/:clientId/rotate-secret', async (ctx) => {
    await kit.postedForm(ctx);
    const client = await clients.show(param(ctx, 'clientId', clientId));
    try {
      const { secret } = await clients.rotateSecret(client.clientId, kit.actor(ctx));
      await kit.showOnce(ctx, `/admin/clients/${client.clientId}`, secret);
    } catch (error) {
      await clientPage(ctx, client, { formError: refusalText(ctx, error) }, 400);
    }
  });

  router.get('/clients/:clientId/delete', async (ctx) => {
    const client = await clients.show(param(ctx, 'clientId', clientId));
    await kit.page(ctx, 'clients', 'confirm', 'pages.admin.clients.delete_title', {
      question: tr(ctx, 'pages.admin.clients.delete_question', { name: client.name }), action: `/admin/clients/${client.clientId}/delete`,
      confirmLabel: tr(ctx, 'pages.admin.clients.delete'), backHref: `/admin/clients/${client.clientId}`,
    });
  });

  router.post('/clients/:clientId/delete', async (ctx) => {
    await kit.postedForm(ctx);
    await clients.delete(param(ctx, 'clientId', clientId), kit.actor(ctx));
    kit.seeOther(ctx, '/admin/clients', 'deleted');
  });
}
