import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { apiRepresentationSchema } from '../../src/admin/api/admin-apis-routes.js';
import { pageOf } from '../../src/admin/api/admin-schemas.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

const configured = 'https://config.example.test';

let t: TestServer;
let adminApi: string;
let botId: string;
let worker: oidc.Configuration;
let writeToken: string;
let readToken: string;
let openapi: { paths: Record<string, Record<string, { responses: Record<string, { content?: { 'application/json': { schema: { $ref: string } } } }> }>>; components: { schemas: Record<string, { required?: string[] }> } };

interface Answer { status: number; headers: Headers; body: Record<string, unknown> }

async function call(method: string, path: string, options: { token?: string; body?: unknown; raw?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
  const response = await fetch(new URL(`/admin/api/v1${path}`, t.issuer), {
    method,
    headers: {
      accept: 'application/json',
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      ...(options.body !== undefined || options.raw !== undefined ? { 'content-type': 'application/json' } : {}),
      ...options.headers,
    },
    body: options.raw ?? (options.body !== undefined ? JSON.stringify(options.body) : undefined),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) as Record<string, unknown> : {} };
}

/** The identifier is a URI: it travels percent-encoded as one path segment. */
const at = (identifier: string) => `/apis/${encodeURIComponent(identifier)}`;

/** The answer matches the zod schema and the OpenAPI document's schema for that operation and status. */
function conforms(answer: Answer, schema: z.ZodType, method: string, path: string): void {
  expect(() => schema.parse(answer.body)).not.toThrow();
  const documented = openapi.paths[path]?.[method]?.responses[String(answer.status)];
  expect(documented, `${method} ${path} documents ${answer.status}`).toBeDefined();
  const ref = documented!.content?.['application/json'].schema.$ref;
  const component = openapi.components.schemas[ref!.split('/').pop()!]!;
  for (const field of component.required ?? []) expect(answer.body, `${field} is required`).toHaveProperty(field);
}

function documentsError(answer: Answer, method: string, path: string, status: number, error?: string): void {
  expect(answer.status, JSON.stringify(answer.body)).toBe(status);
  if (error) expect(answer.body.error).toBe(error);
  expect(typeof answer.body.error_description).toBe('string');
  expect(openapi.paths[path]?.[method]?.responses[String(status)], `${method} ${path} documents ${status}`).toBeDefined();
}

async function discover(clientId: string, secret: string): Promise<oidc.Configuration> {
  return oidc.discovery(new URL(t.issuer), clientId, {}, oidc.ClientSecretBasic(secret), { execute: [oidc.allowInsecureRequests] });
}

async function adminToken(config: oidc.Configuration, scope: string): Promise<string> {
  return (await oidc.clientCredentialsGrant(config, { scope, resource: adminApi })).access_token;
}

const audited = async (type: string) => await t.container.dataSource.query('select actor, details from audit_events where type = $1', [type]) as Array<{ actor: string; details: Record<string, unknown> }>;

beforeAll(async () => {
  t = await startTestServer({ apis: [{ identifier: configured, scopes: ['read'] }] });
  adminApi = `${t.issuer}/admin/api`;
  const { clients, rbac } = t.container;
  const bot = await clients.create({ name: 'Admin bot', type: 'service', allowAdminApi: true }, 'test');
  botId = bot.client.clientId;
  await rbac.create('admin', 'administrators', 'test');
  await rbac.assign('admin', { client: botId }, 'test');
  const admin = await discover(botId, bot.secret!);
  writeToken = await adminToken(admin, 'admin:read admin:write');
  readToken = await adminToken(admin, 'admin:read');
  const w = await clients.create({ name: 'Worker', type: 'service' }, 'test');
  worker = await discover(w.client.clientId, w.secret!);
  openapi = await (await fetch(new URL('/admin/api/v1/openapi.json', t.issuer))).json() as typeof openapi;
});
afterAll(() => t?.close());

describe('the OpenAPI document', () => {
  it('lists the /apis operations with their schemas', () => {
    const operations = Object.entries(openapi.paths).filter(([path]) => path.startsWith('/apis'))
      .flatMap(([path, methods]) => Object.keys(methods).map((method) => `${method} ${path}`)).sort();
    expect(operations).toEqual(['delete /apis/{identifier}', 'get /apis', 'get /apis/{identifier}', 'patch /apis/{identifier}', 'post /apis']);
    expect(openapi.components.schemas.ApiCreate!.required).toEqual(['identifier', 'name']);
    expect(openapi.components.schemas.Api!.required).toEqual(expect.arrayContaining(['identifier', 'scopes', 'source']));
  });
});

describe('authentication', () => {
  it('answers 401 without a credential and 403 to a read-only token on writes', async () => {
    documentsError(await call('GET', '/apis'), 'get', '/apis', 401, 'unauthorized');
    documentsError(await call('GET', at(configured), { token: 'not-a-jwt' }), 'get', '/apis/{identifier}', 401, 'invalid_token');
    documentsError(await call('POST', '/apis', { token: readToken, body: { identifier: 'https://x.example.test', name: 'x' } }), 'post', '/apis', 403, 'insufficient_scope');
    documentsError(await call('PATCH', at(configured), { token: readToken, body: {} }), 'patch', '/apis/{identifier}', 403, 'insufficient_scope');
    documentsError(await call('DELETE', at(configured), { token: readToken }), 'delete', '/apis/{identifier}', 403, 'insufficient_scope');
  });
});

describe('GET /apis', () => {
  it('lists built-in, config and registered APIs with their source, page by page', async () => {
    for (const n of [1, 2, 3]) await t.container.apis.create({ identifier: `https://paged${n}.example.test`, name: `Paged ${n}` }, 'test');
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const answer = await call('GET', `/apis?limit=2${cursor ? `&cursor=${cursor}` : ''}`, { token: readToken });
      conforms(answer, pageOf(apiRepresentationSchema), 'get', '/apis');
      const page = pageOf(apiRepresentationSchema).parse(answer.body);
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.items.map((api) => `${api.source} ${api.identifier}`));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toEqual((await t.container.apis.list()).map((api) => `${api.source} ${api.identifier}`));
    expect(seen.slice(0, 2)).toEqual([`builtin ${adminApi}`, `config ${configured}`]);
    const registered = pageOf(apiRepresentationSchema).parse((await call('GET', '/apis?source=database&limit=200', { token: readToken })).body);
    expect(registered.items.length).toBeGreaterThanOrEqual(3);
    expect(registered.items.every((api) => api.source === 'database')).toBe(true);
    documentsError(await call('GET', '/apis?limit=0', { token: readToken }), 'get', '/apis', 422, 'validation_failed');
    documentsError(await call('GET', '/apis?source=elsewhere', { token: readToken }), 'get', '/apis', 422, 'validation_failed');
  });
});

describe('GET /apis/{identifier}', () => {
  it('reads any API with an ETag, and answers 404 for an unknown one', async () => {
    const builtin = await call('GET', at(adminApi), { token: readToken });
    conforms(builtin, apiRepresentationSchema, 'get', '/apis/{identifier}');
    expect(builtin.body).toMatchObject({ identifier: adminApi, scopes: ['admin:read', 'admin:write'], rbac: true, source: 'builtin', createdAt: null });
    expect(builtin.headers.get('etag')).toMatch(/^"[\w-]+"$/);
    expect((await call('GET', at(configured), { token: readToken })).body).toMatchObject({ source: 'config', scopes: ['read'] });
    documentsError(await call('GET', at('https://unknown.example.test'), { token: readToken }), 'get', '/apis/{identifier}', 404, 'api_not_found');
  });
});

describe('POST /apis', () => {
  const api = 'https://billing.example.test/api';

  it('registers an API that tokens can be issued for at once, and audits the admin', async () => {
    const answer = await call('POST', '/apis', { token: writeToken, body: { identifier: api, name: 'Billing', scopes: ['invoices:read'], accessTokenTtl: 900 } });
    expect(answer.status).toBe(201);
    conforms(answer, apiRepresentationSchema, 'post', '/apis');
    expect(answer.body).toMatchObject({ identifier: api, name: 'Billing', scopes: ['invoices:read'], accessTokenTtl: 900, rbac: false, source: 'database' });
    expect(answer.headers.get('location')).toBe(`/admin/api/v1${at(api)}`);
    expect((await call('GET', answer.headers.get('location')!.replace('/admin/api/v1', ''), { token: readToken })).body).toMatchObject({ identifier: api });
    expect((await audited('api.created')).find((e) => e.details.identifier === api)?.actor).toBe(`admin:${botId}`);

    const response = await oidc.clientCredentialsGrant(worker, { resource: api, scope: 'invoices:read' });
    const { payload } = await jwtVerify(response.access_token, createRemoteJWKSet(new URL('/jwks', t.issuer)), { issuer: t.issuer, audience: api });
    expect(payload.scope).toBe('invoices:read');
  });

  it('answers 409 for a taken identifier, including config and built-in ones', async () => {
    documentsError(await call('POST', '/apis', { token: writeToken, body: { identifier: api, name: 'Again' } }), 'post', '/apis', 409, 'api_exists');
    documentsError(await call('POST', '/apis', { token: writeToken, body: { identifier: configured, name: 'Shadow' } }), 'post', '/apis', 409, 'api_exists');
    documentsError(await call('POST', '/apis', { token: writeToken, body: { identifier: adminApi, name: 'Shadow' } }), 'post', '/apis', 409, 'api_exists');
  });

  it('answers 422 naming the field, 415 for another media type and 400 for broken JSON', async () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ name: 'x' }, /^body\.identifier: /],
      [{ identifier: 'relative/path', name: 'x' }, /^body\.identifier: /],
      [{ identifier: 'https://x.example.test', name: 'x', scopes: ['two words'] }, /^body\.scopes\.0: a scope token has no spaces or quotes/],
      [{ identifier: 'https://x.example.test', name: 'x', accessTokenTtl: 86_401 }, /^body\.accessTokenTtl: at most 86400 seconds/],
      [{ identifier: 'https://x.example.test', name: 'x', source: 'database' }, /source/],
    ];
    for (const [body, message] of cases) {
      const answer = await call('POST', '/apis', { token: writeToken, body });
      documentsError(answer, 'post', '/apis', 422, 'validation_failed');
      expect(answer.body.error_description).toMatch(message);
    }
    documentsError(await call('POST', '/apis', { token: writeToken, body: 'x', headers: { 'content-type': 'text/plain' } }), 'post', '/apis', 415, 'unsupported_media_type');
    documentsError(await call('POST', '/apis', { token: writeToken, raw: '{' }), 'post', '/apis', 400, 'invalid_json');
  });
});

describe('PATCH /apis/{identifier}', () => {
  const api = 'https://shipping.example.test';

  it('changes a registered API with If-Match: 412 when stale, 428 when missing', async () => {
    await t.container.apis.create({ identifier: api, name: 'Shipping', scopes: ['ship'] }, 'test');
    const read = await call('GET', at(api), { token: readToken });
    const etag = read.headers.get('etag')!;
    const updated = await call('PATCH', at(api), { token: writeToken, body: { scopes: ['ship', 'track'], rbac: true }, headers: { 'if-match': etag } });
    expect(updated.status).toBe(200);
    conforms(updated, apiRepresentationSchema, 'patch', '/apis/{identifier}');
    expect(updated.body).toMatchObject({ scopes: ['ship', 'track'], rbac: true, name: 'Shipping' });
    expect(updated.headers.get('etag')).not.toBe(etag);
    expect((await call('GET', at(api), { token: readToken })).headers.get('etag')).toBe(updated.headers.get('etag'));
    expect((await audited('api.updated')).find((e) => e.details.identifier === api)).toEqual({
      actor: `admin:${botId}`, details: { identifier: api, before: { scopes: ['ship'], rbac: false }, after: { scopes: ['ship', 'track'], rbac: true } },
    });

    documentsError(await call('PATCH', at(api), { token: writeToken, body: { name: 'Late' }, headers: { 'if-match': etag } }), 'patch', '/apis/{identifier}', 412, 'precondition_failed');
    documentsError(await call('PATCH', at(api), { token: writeToken, body: { name: 'Blind' } }), 'patch', '/apis/{identifier}', 428, 'precondition_required');
    const current = updated.headers.get('etag')!;
    const bad = await call('PATCH', at(api), { token: writeToken, body: { accessTokenTtl: -1 }, headers: { 'if-match': current } });
    documentsError(bad, 'patch', '/apis/{identifier}', 422, 'validation_failed');
    expect(bad.body.error_description).toMatch(/^body\.accessTokenTtl: /);
    const renamed = await call('PATCH', at(api), { token: writeToken, body: { identifier: 'https://moved.example.test' }, headers: { 'if-match': current } });
    documentsError(renamed, 'patch', '/apis/{identifier}', 422, 'validation_failed');
    documentsError(await call('PATCH', at(api), { token: writeToken, raw: '{', headers: { 'if-match': current } }), 'patch', '/apis/{identifier}', 400, 'invalid_json');
    documentsError(await call('PATCH', at(api), { token: writeToken, body: 'x', headers: { 'if-match': current, 'content-type': 'text/plain' } }), 'patch', '/apis/{identifier}', 415, 'unsupported_media_type');
  });

  it('gives one of two concurrent PATCHes with the same ETag 200 and the other 412', async () => {
    const racing = 'https://racing.example.test';
    await t.container.apis.create({ identifier: racing, name: 'Racing', scopes: ['race'] }, 'test');
    const etag = (await call('GET', at(racing), { token: readToken })).headers.get('etag')!;
    const answers = await Promise.all(['Racing A', 'Racing B'].map((name) =>
      call('PATCH', at(racing), { token: writeToken, body: { name }, headers: { 'if-match': etag } })));
    expect(answers.map((answer) => answer.status).sort()).toEqual([200, 412]);
    expect((await t.container.apis.show(racing)).name).toBe(answers.find((answer) => answer.status === 200)!.body.name);
  });

  it('answers 409 for config and built-in APIs, and 404 for an unknown one', async () => {
    for (const identifier of [configured, adminApi]) {
      const etag = (await call('GET', at(identifier), { token: readToken })).headers.get('etag')!;
      const answer = await call('PATCH', at(identifier), { token: writeToken, body: { scopes: ['read', 'write'] }, headers: { 'if-match': etag } });
      documentsError(answer, 'patch', '/apis/{identifier}', 409, 'api_read_only');
    }
    const refused = await call('PATCH', at(configured), { token: writeToken, body: { name: 'x' }, headers: { 'if-match': '*' } });
    expect(refused.body.error_description).toBe(`${configured} is defined in config (apis); change it in the configuration file`);
    documentsError(await call('PATCH', at('https://unknown.example.test'), { token: writeToken, body: { name: 'x' }, headers: { 'if-match': '*' } }), 'patch', '/apis/{identifier}', 404, 'api_not_found');
  });
});

describe('DELETE /apis/{identifier}', () => {
  const api = 'https://returns.example.test';

  it('refuses with 409 while a role uses it, then deletes and the resource is gone', async () => {
    await t.container.apis.create({ identifier: api, name: 'Returns', scopes: ['returns:read'] }, 'test');
    await t.container.rbac.create('returns-clerk', undefined, 'test');
    await t.container.rbac.grant('returns-clerk', api, 'returns:read', 'test');
    const inUse = await call('DELETE', at(api), { token: writeToken });
    documentsError(inUse, 'delete', '/apis/{identifier}', 409, 'api_in_use');
    expect(inUse.body.error_description).toMatch(/role returns-clerk/);

    await t.container.rbac.revoke('returns-clerk', api, 'returns:read', 'test');
    expect((await call('DELETE', at(api), { token: writeToken })).status).toBe(204);
    expect((await audited('api.deleted')).find((e) => e.details.identifier === api)?.actor).toBe(`admin:${botId}`);
    documentsError(await call('GET', at(api), { token: readToken }), 'get', '/apis/{identifier}', 404, 'api_not_found');
    documentsError(await call('DELETE', at(api), { token: writeToken }), 'delete', '/apis/{identifier}', 404, 'api_not_found');
    const failure = await oidc.clientCredentialsGrant(worker, { resource: api, scope: 'returns:read' }).then(() => undefined, (e: unknown) => e as { error?: string });
    expect(failure?.error).toBe('invalid_target');
  });

  it('answers 409 for config and built-in APIs', async () => {
    documentsError(await call('DELETE', at(configured), { token: writeToken }), 'delete', '/apis/{identifier}', 409, 'api_read_only');
    documentsError(await call('DELETE', at(adminApi), { token: writeToken }), 'delete', '/apis/{identifier}', 409, 'api_read_only');
  });
});
