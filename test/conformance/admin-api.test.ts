import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { accountSchema, clientSchema, clientWithSecretSchema, pageOf } from '../../src/admin/api/admin-schemas.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

let t: TestServer;
let adminApi: string;
let botId: string;
let writeToken: string;
let readToken: string;
let openapi: { paths: Record<string, Record<string, { responses: Record<string, { content?: { 'application/json': { schema: { $ref: string } } } }> }>>; components: { schemas: Record<string, { required?: string[] }> } };

interface Answer { status: number; headers: Headers; body: Record<string, unknown> }

async function call(method: string, path: string, options: { token?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<Answer> {
  const response = await fetch(new URL(`/admin/api/v1${path}`, t.issuer), {
    method,
    headers: {
      accept: 'application/json',
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...options.headers,
    },
    body: options.body !== undefined ? JSON.stringify(options.body) : undefined,
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) as Record<string, unknown> : {} };
}

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
  expect(answer.status).toBe(status);
  if (error) expect(answer.body.error).toBe(error);
  expect(typeof answer.body.error_description).toBe('string');
  expect(openapi.paths[path]?.[method]?.responses[String(status)], `${method} ${path} documents ${status}`).toBeDefined();
}

async function adminToken(clientId: string, secret: string, scope: string): Promise<string> {
  const config = await oidc.discovery(new URL(t.issuer), clientId, {}, oidc.ClientSecretBasic(secret), { execute: [oidc.allowInsecureRequests] });
  return (await oidc.clientCredentialsGrant(config, { scope, resource: adminApi })).access_token;
}

const auditActors = async (type: string) => (await t.container.dataSource.query('select actor from audit_events where type = $1', [type]) as { actor: string }[]).map((row) => row.actor);

beforeAll(async () => {
  t = await startTestServer();
  adminApi = `${t.issuer}/admin/api`;
  const { clients, rbac } = t.container;
  const bot = await clients.create({ name: 'Admin bot', type: 'service' }, 'test');
  botId = bot.client.clientId;
  await rbac.create('admin', 'administrators', 'test');
  await rbac.assign('admin', { client: botId }, 'test');
  writeToken = await adminToken(botId, bot.secret!, 'admin:read admin:write');
  readToken = await adminToken(botId, bot.secret!, 'admin:read');
  openapi = await (await fetch(new URL('/admin/api/v1/openapi.json', t.issuer))).json() as typeof openapi;
});
afterAll(() => t?.close());

describe('the OpenAPI document', () => {
  it('is OpenAPI 3.1 and lists every route with bearer security', async () => {
    const answer = await call('GET', '/openapi.json');
    expect(answer.status).toBe(200);
    expect(answer.body.openapi).toBe('3.1.0');
    const operations = Object.entries(openapi.paths).flatMap(([path, methods]) => Object.keys(methods).map((method) => `${method} ${path}`)).sort();
    expect(operations).toEqual([
      'delete /clients/{clientId}', 'get /accounts', 'get /accounts/{accountId}', 'get /clients', 'get /clients/{clientId}',
      'patch /clients/{clientId}', 'post /accounts', 'post /accounts/{accountId}/disable', 'post /accounts/{accountId}/enable',
      'post /clients', 'post /clients/{clientId}/rotate-secret',
    ]);
    expect(answer.body.components).toMatchObject({ securitySchemes: { bearer: { type: 'oauth2' }, apiKey: { type: 'http', scheme: 'bearer' } } });
    expect(openapi.components.schemas.ClientCreate!.required).toEqual(['name', 'type']);
  });
});

describe('authentication', () => {
  it('answers 401 with a Bearer challenge without a credential or with a bad one', async () => {
    const none = await call('GET', '/clients');
    documentsError(none, 'get', '/clients', 401, 'unauthorized');
    expect(none.headers.get('www-authenticate')).toBe('Bearer realm="admin"');
    for (const token of ['not-a-jwt', 'pcl_nope', `${writeToken.slice(0, -4)}AAAA`]) {
      const bad = await call('GET', '/clients', { token });
      expect(bad.status).toBe(401);
      expect(bad.body.error).toBe('invalid_token');
      expect(bad.headers.get('www-authenticate')).toMatch(/^Bearer realm="admin", error="invalid_token"/);
    }
  });

  it('answers 403 insufficient_scope to a token without admin:write on a write', async () => {
    expect((await call('GET', '/clients', { token: readToken })).status).toBe(200);
    const answer = await call('POST', '/clients', { token: readToken, body: { name: 'x', type: 'service' } });
    documentsError(answer, 'post', '/clients', 403, 'insufficient_scope');
    expect(answer.headers.get('www-authenticate')).toContain('scope="admin:write"');
  });

  it('gives a client without the admin role no admin scope', async () => {
    const other = await t.container.clients.create({ name: 'Stranger', type: 'service' }, 'test');
    const token = await adminToken(other.client.clientId, other.secret!, 'admin:read');
    expect((await call('GET', '/clients', { token })).status).toBe(403);
  });

  it('accepts admin API keys of admin-role holders, with their scopes', async () => {
    const { token } = await t.container.apiKeys.create({ owner: { type: 'service', clientId: botId }, name: 'ops', scopes: ['admin:read'], api: adminApi }, 'test');
    expect((await call('GET', '/clients', { token })).status).toBe(200);
    expect((await call('POST', '/clients', { token, body: { name: 'x', type: 'service' } })).status).toBe(403);
    // A key for no API, or owned by someone without the admin role, is no admin credential.
    const loose = await t.container.apiKeys.create({ owner: { type: 'service', clientId: botId }, name: 'loose', scopes: ['admin:read'] }, 'test');
    expect((await call('GET', '/clients', { token: loose.token })).status).toBe(401);
    const stranger = await t.container.clients.create({ name: 'Stranger 2', type: 'service' }, 'test');
    const theirs = await t.container.apiKeys.create({ owner: { type: 'service', clientId: stranger.client.clientId }, name: 'x', scopes: ['admin:read'], api: adminApi }, 'test');
    expect((await call('GET', '/clients', { token: theirs.token })).status).toBe(403);
  });
});

describe('/clients', () => {
  it('registers a client, shows its secret once and audits the admin', async () => {
    const answer = await call('POST', '/clients', { token: writeToken, body: { name: 'Billing', type: 'web', redirectUris: ['https://billing.example.com/cb'] } });
    expect(answer.status).toBe(201);
    conforms(answer, clientWithSecretSchema, 'post', '/clients');
    const { client, clientSecret } = clientWithSecretSchema.parse(answer.body);
    expect(answer.headers.get('location')).toBe(`/admin/api/v1/clients/${client.clientId}`);
    expect(await t.container.clients.authenticate(client.clientId, clientSecret!)).toBeDefined();
    expect(answer.body).not.toHaveProperty('client.secretEncrypted');
    const read = await call('GET', `/clients/${client.clientId}`, { token: writeToken });
    expect(read.body).not.toHaveProperty('clientSecret');
    expect(await auditActors('client.created')).toContain(`admin:${botId}`);
  });

  it('answers 422 naming the field for a bad body, and for what the service refuses', async () => {
    const bad = await call('POST', '/clients', { token: writeToken, body: { name: 'x', type: 'mainframe' } });
    documentsError(bad, 'post', '/clients', 422, 'validation_failed');
    expect(bad.body.error_description).toMatch(/^body\.type: /);
    const extra = await call('POST', '/clients', { token: writeToken, body: { name: 'x', type: 'service', secret: 'mine' } });
    expect(extra.status).toBe(422);
    expect(extra.body.error_description).toMatch(/secret/);
    const refused = await call('POST', '/clients', { token: writeToken, body: { name: 'x', type: 'web' } });
    expect(refused).toMatchObject({ status: 422, body: { error: 'invalid_redirect_uri' } });
    const notJson = await fetch(new URL('/admin/api/v1/clients', t.issuer), { method: 'POST', headers: { authorization: `Bearer ${writeToken}`, 'content-type': 'application/json' }, body: '{' });
    expect(notJson.status).toBe(400);
  });

  it('pages through the list with a cursor', async () => {
    for (const name of ['A', 'B', 'C']) await t.container.clients.create({ name, type: 'service' }, 'test');
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const answer = await call('GET', `/clients?limit=2${cursor ? `&cursor=${cursor}` : ''}`, { token: readToken });
      conforms(answer, pageOf(clientSchema), 'get', '/clients');
      const page = pageOf(clientSchema).parse(answer.body);
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.items.map((client) => client.clientId));
      cursor = page.nextCursor;
    } while (cursor);
    const all = (await t.container.clients.list()).map((client) => client.clientId);
    expect(seen).toEqual(all);
    const services = pageOf(clientSchema).parse((await call('GET', '/clients?type=service&limit=200', { token: readToken })).body);
    expect(services.items.every((client) => client.type === 'service')).toBe(true);
    documentsError(await call('GET', '/clients?limit=0', { token: readToken }), 'get', '/clients', 422, 'validation_failed');
  });

  it('updates with If-Match: 412 when stale, 428 when missing', async () => {
    const { client } = await t.container.clients.create({ name: 'Shop', type: 'service' }, 'test');
    const path = `/clients/${client.clientId}`;
    const read = await call('GET', path, { token: readToken });
    conforms(read, clientSchema, 'get', '/clients/{clientId}');
    const etag = read.headers.get('etag')!;
    expect(etag).toMatch(/^"[\w-]+"$/);
    const updated = await call('PATCH', path, { token: writeToken, body: { name: 'Shop 2', accessTokenTtl: 300 }, headers: { 'if-match': etag } });
    expect(updated.status).toBe(200);
    conforms(updated, clientSchema, 'patch', '/clients/{clientId}');
    expect(updated.body).toMatchObject({ name: 'Shop 2', accessTokenTtl: 300 });
    expect(updated.headers.get('etag')).not.toBe(etag);
    expect((await call('GET', path, { token: readToken })).headers.get('etag')).toBe(updated.headers.get('etag'));
    documentsError(await call('PATCH', path, { token: writeToken, body: { name: 'Shop 3' }, headers: { 'if-match': etag } }), 'patch', '/clients/{clientId}', 412, 'precondition_failed');
    documentsError(await call('PATCH', path, { token: writeToken, body: { name: 'Shop 3' } }), 'patch', '/clients/{clientId}', 428, 'precondition_required');
    const badField = await call('PATCH', path, { token: writeToken, body: { accessTokenTtl: -1 }, headers: { 'if-match': updated.headers.get('etag')! } });
    expect(badField).toMatchObject({ status: 422, body: { error: 'validation_failed' } });
    expect(badField.body.error_description).toMatch(/^body\.accessTokenTtl: /);
    expect(await auditActors('client.updated')).toContain(`admin:${botId}`);
  });

  it('rotates a secret and deletes; unknown clients are 404', async () => {
    const { client, secret } = await t.container.clients.create({ name: 'Rotating', type: 'service' }, 'test');
    const rotated = await call('POST', `/clients/${client.clientId}/rotate-secret`, { token: writeToken });
    expect(rotated.status).toBe(200);
    conforms(rotated, clientWithSecretSchema, 'post', '/clients/{clientId}/rotate-secret');
    expect(await t.container.clients.authenticate(client.clientId, secret!)).toBeUndefined();
    expect(await t.container.clients.authenticate(client.clientId, rotated.body.clientSecret as string)).toBeDefined();
    const deleted = await call('DELETE', `/clients/${client.clientId}`, { token: writeToken });
    expect(deleted.status).toBe(204);
    expect(await auditActors('client.deleted')).toContain(`admin:${botId}`);
    documentsError(await call('GET', `/clients/${client.clientId}`, { token: readToken }), 'get', '/clients/{clientId}', 404, 'client_not_found');
    documentsError(await call('DELETE', `/clients/${client.clientId}`, { token: writeToken }), 'delete', '/clients/{clientId}', 404, 'client_not_found');
    documentsError(await call('POST', '/clients/nope/rotate-secret', { token: writeToken }), 'post', '/clients/{clientId}/rotate-secret', 404, 'client_not_found');
  });
});

describe('/accounts', () => {
  it('creates, finds by email, reads, disables and enables an account', async () => {
    const created = await call('POST', '/accounts', { token: writeToken, body: { email: 'ada@example.com', password: 'correct horse battery staple', name: 'Ada' } });
    expect(created.status).toBe(201);
    conforms(created, accountSchema, 'post', '/accounts');
    expect(created.body).not.toHaveProperty('passwordHash');
    const id = created.body.id as string;
    expect(await auditActors('account.created')).toContain(`admin:${botId}`);

    const found = await call('GET', '/accounts?email=ada@example.com', { token: readToken });
    conforms(found, pageOf(accountSchema), 'get', '/accounts');
    expect(found.body).toMatchObject({ items: [{ id, email: 'ada@example.com' }], nextCursor: null });
    expect((await call('GET', '/accounts?email=nobody@example.com', { token: readToken })).body).toEqual({ items: [], nextCursor: null });

    const read = await call('GET', `/accounts/${id}`, { token: readToken });
    conforms(read, accountSchema, 'get', '/accounts/{accountId}');
    expect(read.headers.get('etag')).toMatch(/^"/);

    const disabled = await call('POST', `/accounts/${id}/disable`, { token: writeToken });
    conforms(disabled, accountSchema, 'post', '/accounts/{accountId}/disable');
    expect(disabled.body.disabledAt).toEqual(expect.any(String));
    expect(await auditActors('account.disabled')).toContain(`admin:${botId}`);
    const enabled = await call('POST', `/accounts/${id}/enable`, { token: writeToken });
    expect(enabled).toMatchObject({ status: 200, body: { disabledAt: null } });
  });

  it('answers 409 for a taken email and 422 naming the field', async () => {
    const body = { email: 'dup@example.com', password: 'correct horse battery staple' };
    expect((await call('POST', '/accounts', { token: writeToken, body })).status).toBe(201);
    documentsError(await call('POST', '/accounts', { token: writeToken, body }), 'post', '/accounts', 409, 'email_taken');
    const bad = await call('POST', '/accounts', { token: writeToken, body: { ...body, email: 'not-an-email' } });
    documentsError(bad, 'post', '/accounts', 422, 'validation_failed');
    expect(bad.body.error_description).toMatch(/^body\.email: /);
  });

  it('pages through accounts by email and answers 404 for unknown ids', async () => {
    for (const email of ['p1@example.com', 'p2@example.com', 'p3@example.com']) await t.container.accounts.create({ email, password: 'correct horse battery staple' }, 'test');
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page = pageOf(accountSchema).parse((await call('GET', `/accounts?limit=2${cursor ? `&cursor=${cursor}` : ''}`, { token: readToken })).body);
      seen.push(...page.items.map((account) => account.email));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toEqual([...seen].sort());
    expect(seen).toEqual(expect.arrayContaining(['p1@example.com', 'p2@example.com', 'p3@example.com']));
    const unknown = '00000000-0000-4000-8000-000000000000';
    documentsError(await call('GET', `/accounts/${unknown}`, { token: readToken }), 'get', '/accounts/{accountId}', 404, 'account_not_found');
    documentsError(await call('POST', `/accounts/${unknown}/disable`, { token: writeToken }), 'post', '/accounts/{accountId}/disable', 404, 'account_not_found');
  });
});

describe('unknown addresses', () => {
  it('answers JSON 404 under the prefix even to a browser-like Accept', async () => {
    const response = await fetch(new URL('/admin/api/v1/nothing', t.issuer), { headers: { accept: '*/*' } });
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ error: 'not_found' });
  });
});
