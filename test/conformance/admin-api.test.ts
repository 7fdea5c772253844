import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLoginThrottleFor } from '../../src/accounts/login-throttle.js';
import { BrowserAgent } from '../helpers/browser-agent.js';
import * as oidc from 'openid-client';
import { createAccount, redirectUri, signInForTokens } from '../helpers/accounts-fixtures.js';
import { adminToken, allPages, auditRows, checkGenericErrors, concurrentPatches, startAdminApi, type AdminApiFixture } from '../helpers/admin-api-fixtures.js';

let f: AdminApiFixture;
const auditActors = async (type: string) => (await auditRows(f.t, type)).map((row) => row.actor);

type Json = Record<string, unknown>;
type Page = { items: Json[]; nextCursor: string | null };

beforeAll(async () => {
  f = await startAdminApi({ captcha: { provider: 'none' } });
});
afterAll(() => f?.close());

/** This file's operations; admin-api-resources.test.ts covers roles, API keys, signing keys and audit events. */
const prefixes = ['/clients', '/accounts'];

describe('the OpenAPI document', () => {
  it('is OpenAPI 3.1 and lists every route with bearer security', async () => {
    const response = await fetch(new URL('/admin/api/v1/openapi.json', f.t.issuer));
    expect(response.status).toBe(200);
    const document = await response.json() as Json;
    expect(document.openapi).toBe('3.1.0');
    const operations = Object.entries(f.api.document.paths)
      // /apis belongs to the APIs registry (test/conformance/admin-apis*.test.ts).
      .filter(([path]) => !path.startsWith('/apis'))
      .flatMap(([path, methods]) => Object.keys(methods).map((method) => `${method} ${path}`)).sort();
    expect(operations).toEqual([
      'delete /accounts/{accountId}', 'delete /clients/{clientId}', 'delete /roles/{name}',
      'get /accounts', 'get /accounts/{accountId}', 'get /api-keys', 'get /api-keys/{apiKeyId}', 'get /audit-events',
      'get /clients', 'get /clients/{clientId}', 'get /roles', 'get /roles/{name}', 'get /signing-keys',
      'patch /accounts/{accountId}', 'patch /clients/{clientId}', 'patch /roles/{name}',
      'post /accounts', 'post /accounts/{accountId}/disable', 'post /accounts/{accountId}/enable', 'post /accounts/{accountId}/end-sessions',
      'post /accounts/{accountId}/reset-mfa', 'post /accounts/{accountId}/unlock', 'post /accounts/{accountId}/verify-email',
      'post /api-keys', 'post /api-keys/{apiKeyId}/revoke', 'post /api-keys/{apiKeyId}/rotate',
      'post /clients', 'post /clients/{clientId}/rotate-secret', 'post /roles', 'post /signing-keys/rotate',
      'put /accounts/{accountId}/roles', 'put /roles/{name}/permissions/{api}',
    ]);
    expect(document.components).toMatchObject({ securitySchemes: { bearer: { type: 'oauth2' }, apiKey: { type: 'http', scheme: 'bearer' } } });
    expect(f.api.document.components.schemas.ClientCreate!.required).toEqual(['name', 'type']);
    // Every change guarded by an ETag says so.
    for (const [path, methods] of Object.entries(f.api.document.paths)) {
      for (const [method, operation] of Object.entries(methods)) {
        if (method !== 'patch' && method !== 'put') continue;
        expect(operation.parameters, `${method} ${path}`).toContainEqual(expect.objectContaining({ name: 'If-Match', in: 'header', required: true }));
        expect(Object.keys(operation.responses), `${method} ${path}`).toEqual(expect.arrayContaining(['412', '428']));
      }
    }
  });
});

describe('authentication', () => {
  it('answers 401 with a Bearer challenge without a credential or with a bad one', async () => {
    const none = await f.api.call('GET', '/clients');
    expect(none).toMatchObject({ status: 401, body: { error: 'unauthorized' } });
    expect(none.headers.get('www-authenticate')).toBe('Bearer realm="admin"');
    for (const token of ['not-a-jwt', 'pcl_nope', `${f.writeToken.slice(0, -4)}AAAA`]) {
      const bad = await f.api.call('GET', '/clients', { token });
      expect(bad).toMatchObject({ status: 401, body: { error: 'invalid_token' } });
      expect(bad.headers.get('www-authenticate')).toMatch(/^Bearer realm="admin", error="invalid_token"/);
    }
  });

  it('answers 403 insufficient_scope to a token without admin:write on a write', async () => {
    expect((await f.api.call('GET', '/clients', { token: f.readToken })).status).toBe(200);
    const answer = await f.api.call('POST', '/clients', { token: f.readToken, body: { name: 'x', type: 'service' } });
    expect(answer).toMatchObject({ status: 403, body: { error: 'insufficient_scope' } });
    expect(answer.headers.get('www-authenticate')).toContain('scope="admin:write"');
  });

  it('gives a client without the admin role no admin scope', async () => {
    const other = await f.t.container.clients.create(
      { name: 'Stranger', type: 'service', allowAdminApi: true }, 'test');
    const token = await adminToken(f.t, other.client.clientId, other.secret!, 'admin:read');
    expect((await f.api.call('GET', '/clients', { token })).status).toBe(403);
  });

  it('accepts admin API keys of admin-role holders, with their scopes', async () => {
    const { token } = await f.t.container.apiKeys.create({ owner: { type: 'service', clientId: f.botId }, name: 'ops', scopes: ['admin:read'], api: f.adminApi }, 'test');
    expect((await f.api.call('GET', '/clients', { token })).status).toBe(200);
    expect((await f.api.call('POST', '/clients', { token, body: { name: 'x', type: 'service' } })).status).toBe(403);
    // A key for no API, or owned by someone without the admin role, is no admin credential.
    const loose = await f.t.container.apiKeys.create({ owner: { type: 'service', clientId: f.botId }, name: 'loose', scopes: ['admin:read'] }, 'test');
    expect((await f.api.call('GET', '/clients', { token: loose.token })).status).toBe(401);
    const stranger = await f.t.container.clients.create({ name: 'Stranger 2', type: 'service' }, 'test');
    const theirs = await f.t.container.apiKeys.create({ owner: { type: 'service', clientId: stranger.client.clientId }, name: 'x', scopes: ['admin:read'], api: f.adminApi }, 'test');
    expect((await f.api.call('GET', '/clients', { token: theirs.token })).status).toBe(403);
  });

  it('answers 401, 403, 400 and 415 as documented on every /clients and /accounts operation', async () => {
    await checkGenericErrors(f, prefixes);
  });
});

describe('/clients', () => {
  it('registers a client, shows its secret once and audits the admin', async () => {
    const answer = await f.api.call<{ client: Json; clientSecret?: string }>('POST', '/clients', { token: f.writeToken, body: { name: 'Billing', type: 'web', redirectUris: ['https://billing.example.com/cb'] } });
    expect(answer.status).toBe(201);
    const { client, clientSecret } = answer.body;
    expect(answer.headers.get('location')).toBe(`/admin/api/v1/clients/${client.clientId as string}`);
    expect(await f.t.container.clients.authenticate(client.clientId as string, clientSecret!)).toBeDefined();
    expect(answer.body).not.toHaveProperty('client.secretEncrypted');
    const read = await f.api.call('GET', '/clients/{clientId}', { token: f.writeToken, params: { clientId: client.clientId as string } });
    expect(read.body).not.toHaveProperty('clientSecret');
    expect(await auditActors('client.created')).toContain(`admin:${f.botId}`);
  });

  it('answers 422 naming the field for a bad body, and for what the service refuses', async () => {
    const bad = await f.api.call('POST', '/clients', { token: f.writeToken, body: { name: 'x', type: 'mainframe' } });
    expect(bad).toMatchObject({ status: 422, body: { error: 'validation_failed' } });
    expect(bad.body.error_description).toMatch(/^body\.type: /);
    const extra = await f.api.call('POST', '/clients', { token: f.writeToken, body: { name: 'x', type: 'service', secret: 'mine' } });
    expect(extra.status).toBe(422);
    expect(extra.body.error_description).toMatch(/secret/);
    const refused = await f.api.call('POST', '/clients', { token: f.writeToken, body: { name: 'x', type: 'web' } });
    expect(refused).toMatchObject({ status: 422, body: { error: 'invalid_redirect_uri' } });
  });

  it('pages through the list with a cursor', async () => {
    for (const name of ['A', 'B', 'C']) await f.t.container.clients.create({ name, type: 'service' }, 'test');
    const seen = (await allPages(f, '/clients')).map((client) => client.clientId as string);
    const all = (await f.t.container.clients.list()).map((client) => client.clientId);
    expect(seen).toEqual(all);
    const services = await f.api.call<Page>('GET', '/clients', { token: f.readToken, query: { type: 'service', limit: 200 } });
    expect(services.body.items.every((client) => client.type === 'service')).toBe(true);
    expect(await f.api.call('GET', '/clients', { token: f.readToken, query: { limit: 0 } })).toMatchObject({ status: 422, body: { error: 'validation_failed' } });
  });

  it('updates with If-Match: 412 when stale, 428 when missing, and audits before/after of the changed fields', async () => {
    const { client } = await f.t.container.clients.create({ name: 'Shop', type: 'service' }, 'test');
    const params = { clientId: client.clientId };
    const read = await f.api.call('GET', '/clients/{clientId}', { token: f.readToken, params });
    const etag = read.headers.get('etag')!;
    expect(etag).toMatch(/^"[\w-]+"$/);
    const updated = await f.api.call('PATCH', '/clients/{clientId}', { token: f.writeToken, params, body: { name: 'Shop 2', accessTokenTtl: 300 }, headers: { 'if-match': etag } });
    expect(updated).toMatchObject({ status: 200, body: { name: 'Shop 2', accessTokenTtl: 300 } });
    expect(updated.headers.get('etag')).not.toBe(etag);
    expect((await f.api.call('GET', '/clients/{clientId}', { token: f.readToken, params })).headers.get('etag')).toBe(updated.headers.get('etag'));
    const stale = await f.api.call('PATCH', '/clients/{clientId}', { token: f.writeToken, params, body: { name: 'Shop 3' }, headers: { 'if-match': etag } });
    expect(stale).toMatchObject({ status: 412, body: { error: 'precondition_failed' } });
    const missing = await f.api.call('PATCH', '/clients/{clientId}', { token: f.writeToken, params, body: { name: 'Shop 3' } });
    expect(missing).toMatchObject({ status: 428, body: { error: 'precondition_required' } });
    const badField = await f.api.call('PATCH', '/clients/{clientId}', { token: f.writeToken, params, body: { accessTokenTtl: -1 }, headers: { 'if-match': updated.headers.get('etag')! } });
    expect(badField).toMatchObject({ status: 422, body: { error: 'validation_failed' } });
    expect(badField.body.error_description).toMatch(/^body\.accessTokenTtl: /);
    const unknown = await f.api.call('PATCH', '/clients/{clientId}', { token: f.writeToken, params: { clientId: 'nope' }, body: { name: 'x' }, headers: { 'if-match': etag } });
    expect(unknown).toMatchObject({ status: 404, body: { error: 'client_not_found' } });
    const [event] = (await auditRows(f.t, 'client.updated')).filter((row) => row.client_id === client.clientId);
    expect(event).toMatchObject({ actor: `admin:${f.botId}`, details: { before: { name: 'Shop', accessTokenTtl: null }, after: { name: 'Shop 2', accessTokenTtl: 300 } } });
  });

  it('gives one of two concurrent PATCHes with the same ETag 200 and the other 412', async () => {
    const { client } = await f.t.container.clients.create({ name: 'Race', type: 'service' }, 'test');
    const answers = await concurrentPatches(f, '/clients/{clientId}', { clientId: client.clientId }, [{ name: 'Race A' }, { name: 'Race B' }]);
    expect(answers.map((answer) => answer.status).sort()).toEqual([200, 412]);
    const winner = answers.find((answer) => answer.status === 200)!;
    expect((await f.t.container.clients.show(client.clientId)).name).toBe(winner.body.name);
  });

  it('rotates a secret and deletes; unknown clients are 404', async () => {
    const { client, secret } = await f.t.container.clients.create({ name: 'Rotating', type: 'service' }, 'test');
    const params = { clientId: client.clientId };
    const grant = async (clientSecret: string) => {
      const response = await fetch(new URL('/token', f.t.issuer), {
        method: 'POST', body: new URLSearchParams({ grant_type: 'client_credentials' }),
        headers: { authorization: `Basic ${Buffer.from(`${client.clientId}:${clientSecret}`).toString('base64')}` },
      });
      return response.ok ? 'granted' : (await response.json() as { error: string }).error;
    };
    // The token endpoint has the client's metadata cached (clientCacheSeconds) by now.
    expect(await grant(secret!)).toBe('granted');
    const rotated = await f.api.call('POST', '/clients/{clientId}/rotate-secret', { token: f.writeToken, params });
    expect(rotated.status).toBe(200);
    // A change made through this server applies at once, cache or not.
    expect(await grant(secret!)).toBe('invalid_client');
    expect(await grant(rotated.body.clientSecret as string)).toBe('granted');
    expect(await f.t.container.clients.authenticate(client.clientId, secret!)).toBeUndefined();
    expect(await f.t.container.clients.authenticate(client.clientId, rotated.body.clientSecret as string)).toBeDefined();
    const { client: spa } = await f.t.container.clients.create({ name: 'SPA', type: 'spa', redirectUris: ['https://spa.example.com/cb'] }, 'test');
    expect(await f.api.call('POST', '/clients/{clientId}/rotate-secret', { token: f.writeToken, params: { clientId: spa.clientId } }))
      .toMatchObject({ status: 422, body: { error: 'client_has_no_secret' } });
    expect((await f.api.call('DELETE', '/clients/{clientId}', { token: f.writeToken, params })).status).toBe(204);
    expect(await grant(rotated.body.clientSecret as string)).toBe('invalid_client');
    expect(await auditActors('client.deleted')).toContain(`admin:${f.botId}`);
    expect(await f.api.call('GET', '/clients/{clientId}', { token: f.readToken, params })).toMatchObject({ status: 404, body: { error: 'client_not_found' } });
    expect(await f.api.call('DELETE', '/clients/{clientId}', { token: f.writeToken, params })).toMatchObject({ status: 404, body: { error: 'client_not_found' } });
    expect(await f.api.call('POST', '/clients/{clientId}/rotate-secret', { token: f.writeToken, params: { clientId: 'nope' } })).toMatchObject({ status: 404 });
  });
});

describe('/accounts', () => {
  const unknown = '00000000-0000-4000-8000-000000000000';

  it('creates, finds by email, reads, disables and enables an account', async () => {
    const created = await f.api.call('POST', '/accounts', { token: f.writeToken, body: { email: 'ada@example.com', password: 'correct horse battery staple', name: 'Ada' } });
    expect(created.status).toBe(201);
    expect(created.body).not.toHaveProperty('passwordHash');
    const id = created.body.id as string;
    expect(created.headers.get('location')).toBe(`/admin/api/v1/accounts/${id}`);
    expect(await auditActors('account.created')).toContain(`admin:${f.botId}`);

    const found = await f.api.call('GET', '/accounts', { token: f.readToken, query: { email: 'ada@example.com' } });
    expect(found.body).toMatchObject({ items: [{ id, email: 'ada@example.com' }], nextCursor: null });
    expect((await f.api.call('GET', '/accounts', { token: f.readToken, query: { email: 'nobody@example.com' } })).body).toEqual({ items: [], nextCursor: null });
    expect(await f.api.call('GET', '/accounts', { token: f.readToken, query: { email: 'not-an-email' } })).toMatchObject({ status: 422 });

    const read = await f.api.call('GET', '/accounts/{accountId}', { token: f.readToken, params: { accountId: id } });
    expect(read.headers.get('etag')).toMatch(/^"/);

    const disabled = await f.api.call('POST', '/accounts/{accountId}/disable', { token: f.writeToken, params: { accountId: id } });
    expect(disabled.body.disabledAt).toEqual(expect.any(String));
    expect(await f.t.container.accounts.authenticate('ada@example.com', 'correct horse battery staple', {})).toBeUndefined();
    const [event] = (await auditRows(f.t, 'account.disabled')).filter((row) => row.account_id === id);
    expect(event).toMatchObject({ actor: `admin:${f.botId}`, details: { before: { disabledAt: null }, after: { disabledAt: disabled.body.disabledAt } } });
    expect(event!.ip).toEqual(expect.any(String));
    const enabled = await f.api.call('POST', '/accounts/{accountId}/enable', { token: f.writeToken, params: { accountId: id } });
    expect(enabled).toMatchObject({ status: 200, body: { disabledAt: null } });
    expect(await auditActors('account.enabled')).toContain(`admin:${f.botId}`);
  });

  it('answers 409 for a taken email and 422 naming the field', async () => {
    const body = { email: 'dup@example.com', password: 'correct horse battery staple' };
    expect((await f.api.call('POST', '/accounts', { token: f.writeToken, body })).status).toBe(201);
    expect(await f.api.call('POST', '/accounts', { token: f.writeToken, body })).toMatchObject({ status: 409, body: { error: 'email_taken' } });
    const bad = await f.api.call('POST', '/accounts', { token: f.writeToken, body: { ...body, email: 'not-an-email' } });
    expect(bad).toMatchObject({ status: 422, body: { error: 'validation_failed' } });
    expect(bad.body.error_description).toMatch(/^body\.email: /);
    // Well-formed JSON the service refuses (an empty name is fine, an empty password is not) is 422 too.
    expect(await f.api.call('POST', '/accounts', { token: f.writeToken, body: { email: 'e@example.com', password: '' } })).toMatchObject({ status: 422 });
  });

  it('pages through accounts by email and answers 404 for unknown ids and 422 for ids that are no UUID', async () => {
    for (const email of ['p1@example.com', 'p2@example.com', 'p3@example.com']) await f.t.container.accounts.create({ email, password: 'correct horse battery staple' }, 'test');
    const seen = (await allPages(f, '/accounts')).map((account) => account.email as string);
    expect(seen).toEqual([...seen].sort());
    expect(seen).toEqual(expect.arrayContaining(['p1@example.com', 'p2@example.com', 'p3@example.com']));
    for (const [method, path] of [['GET', '/accounts/{accountId}'], ['DELETE', '/accounts/{accountId}'], ['POST', '/accounts/{accountId}/disable'], ['POST', '/accounts/{accountId}/enable'],
      ['POST', '/accounts/{accountId}/unlock'], ['POST', '/accounts/{accountId}/verify-email'], ['POST', '/accounts/{accountId}/reset-mfa'], ['POST', '/accounts/{accountId}/end-sessions']] as const) {
      expect(await f.api.call(method, path, { token: f.writeToken, params: { accountId: unknown } }), `${method} ${path}`).toMatchObject({ status: 404, body: { error: 'account_not_found' } });
      const malformed = await f.api.call(method, path, { token: f.writeToken, params: { accountId: 'ada@example.com' } });
      expect(malformed, `${method} ${path}`).toMatchObject({ status: 422, body: { error: 'validation_failed' } });
      expect(malformed.body.error_description).toMatch(/^params\.accountId: /);
    }
  });

  it('changes an account with PATCH and If-Match, auditing before/after of the changed fields only', async () => {
    const user = await createAccount(f.t, { name: 'Grace', verified: false });
    const params = { accountId: user.id };
    const etag = (await f.api.call('GET', '/accounts/{accountId}', { token: f.readToken, params })).headers.get('etag')!;
    const changed = await f.api.call('PATCH', '/accounts/{accountId}', { token: f.writeToken, params, headers: { 'if-match': etag }, body: { name: 'Grace H.', mfaRequired: true, emailVerified: false } });
    expect(changed).toMatchObject({ status: 200, body: { name: 'Grace H.', mfaRequired: true, emailVerified: false } });
    const newTag = changed.headers.get('etag')!;
    expect(newTag).not.toBe(etag);
    expect((await f.api.call('GET', '/accounts/{accountId}', { token: f.readToken, params })).headers.get('etag')).toBe(newTag);
    const [event] = (await auditRows(f.t, 'account.updated')).filter((row) => row.account_id === user.id);
    // emailVerified was sent unchanged, so it is not in the record.
    expect(event).toMatchObject({ actor: `admin:${f.botId}`, details: { before: { name: 'Grace', mfaRequired: false }, after: { name: 'Grace H.', mfaRequired: true } } });
    expect(event!.details.before).not.toHaveProperty('emailVerified');

    const cleared = await f.api.call('PATCH', '/accounts/{accountId}', { token: f.writeToken, params, headers: { 'if-match': newTag }, body: { name: null } });
    expect(cleared).toMatchObject({ status: 200, body: { name: null } });
    expect(await f.api.call('PATCH', '/accounts/{accountId}', { token: f.writeToken, params, headers: { 'if-match': etag }, body: { name: 'x' } }))
      .toMatchObject({ status: 412, body: { error: 'precondition_failed' } });
    expect(await f.api.call('PATCH', '/accounts/{accountId}', { token: f.writeToken, params, body: { name: 'x' } }))
      .toMatchObject({ status: 428, body: { error: 'precondition_required' } });
    const extra = await f.api.call('PATCH', '/accounts/{accountId}', { token: f.writeToken, params, headers: { 'if-match': '*' }, body: { email: 'x@example.com' } });
    expect(extra).toMatchObject({ status: 422, body: { error: 'validation_failed' } });
    expect(await f.api.call('PATCH', '/accounts/{accountId}', { token: f.writeToken, params: { accountId: unknown }, headers: { 'if-match': '*' }, body: { name: 'x' } }))
      .toMatchObject({ status: 404, body: { error: 'account_not_found' } });
    expect(await f.api.call('PATCH', '/accounts/{accountId}', { token: f.writeToken, params, headers: { 'if-match': '*' }, body: { name: 'n'.repeat(201) } }))
      .toMatchObject({ status: 422 });
  });

  it('gives one of two concurrent PATCHes with the same ETag 200 and the other 412', async () => {
    const user = await createAccount(f.t, { name: 'Racer' });
    const answers = await concurrentPatches(f, '/accounts/{accountId}', { accountId: user.id }, [{ name: 'Racer A' }, { name: 'Racer B' }]);
    expect(answers.map((answer) => answer.status).sort()).toEqual([200, 412]);
    const winner = answers.find((answer) => answer.status === 200)!;
    expect((await f.t.container.accounts.show(user.id)).name).toBe(winner.body.name);
    expect((await auditRows(f.t, 'account.updated')).filter((row) => row.account_id === user.id)).toHaveLength(1);
  });

  it('replaces an account\'s roles with PUT and If-Match; an unknown role is 422 naming it', async () => {
    await f.t.container.rbac.create('support', undefined, 'test');
    await f.t.container.rbac.create('billing', undefined, 'test');
    const user = await createAccount(f.t);
    await f.t.container.rbac.assign('billing', { account: user.id }, 'test');
    const params = { accountId: user.id };
    const etag = (await f.api.call('GET', '/accounts/{accountId}', { token: f.readToken, params })).headers.get('etag')!;
    const set = await f.api.call('PUT', '/accounts/{accountId}/roles', { token: f.writeToken, params, headers: { 'if-match': etag }, body: { roles: ['support', 'admin'] } });
    expect(set).toMatchObject({ status: 200, body: { roles: ['admin', 'support'] } });
    expect(await f.t.container.rbac.rolesForAccount(user.id)).toEqual(['admin', 'support']);
    const [event] = (await auditRows(f.t, 'account.roles_changed')).filter((row) => row.account_id === user.id);
    expect(event).toMatchObject({ actor: `admin:${f.botId}`, details: { before: { roles: ['billing'] }, after: { roles: ['admin', 'support'] }, added: ['admin', 'support'], removed: ['billing'] } });

    const newTag = set.headers.get('etag')!;
    const unknownRole = await f.api.call('PUT', '/accounts/{accountId}/roles', { token: f.writeToken, params, headers: { 'if-match': newTag }, body: { roles: ['support', 'ghost'] } });
    expect(unknownRole).toMatchObject({ status: 422, body: { error: 'unknown_role', error_description: 'no role named ghost' } });
    expect(await f.t.container.rbac.rolesForAccount(user.id)).toEqual(['admin', 'support']);
    expect(await f.api.call('PUT', '/accounts/{accountId}/roles', { token: f.writeToken, params, headers: { 'if-match': etag }, body: { roles: [] } }))
      .toMatchObject({ status: 412 });
    expect(await f.api.call('PUT', '/accounts/{accountId}/roles', { token: f.writeToken, params, body: { roles: [] } })).toMatchObject({ status: 428 });
    expect(await f.api.call('PUT', '/accounts/{accountId}/roles', { token: f.writeToken, params, headers: { 'if-match': newTag }, body: { roles: ['Not A Role'] } }))
      .toMatchObject({ status: 422, body: { error: 'validation_failed' } });
    expect(await f.api.call('PUT', '/accounts/{accountId}/roles', { token: f.writeToken, params: { accountId: unknown }, headers: { 'if-match': '*' }, body: { roles: [] } }))
      .toMatchObject({ status: 404 });
    const emptied = await f.api.call('PUT', '/accounts/{accountId}/roles', { token: f.writeToken, params, headers: { 'if-match': newTag }, body: { roles: [] } });
    expect(emptied).toMatchObject({ status: 200, body: { roles: [] } });
  });

  it('verifies an email and lifts a sign-in lockout', async () => {
    const user = await createAccount(f.t, { verified: false });
    const params = { accountId: user.id };
    const verified = await f.api.call('POST', '/accounts/{accountId}/verify-email', { token: f.writeToken, params });
    expect(verified).toMatchObject({ status: 200, body: { emailVerified: true } });
    expect((await auditRows(f.t, 'account.email_verified')).filter((row) => row.account_id === user.id)).toEqual([
      expect.objectContaining({ actor: `admin:${f.botId}`, details: { before: { emailVerified: false }, after: { emailVerified: true } } }),
    ]);

    const throttle = createLoginThrottleFor(f.t.container);
    const ip = '203.0.113.7';
    for (let attempt = 0; attempt < 100 && !(await throttle.check(user.email, ip)).locked; attempt++) await throttle.recordFailure(user.email, ip);
    expect(await throttle.check(user.email, ip)).toMatchObject({ locked: true });
    const unlocked = await f.api.call('POST', '/accounts/{accountId}/unlock', { token: f.writeToken, params });
    expect(unlocked).toMatchObject({ status: 200, body: { id: user.id } });
    expect(await throttle.check(user.email, ip)).toMatchObject({ locked: false });
    expect((await auditRows(f.t, 'account.unlocked')).filter((row) => row.account_id === user.id).map((row) => row.actor)).toEqual([`admin:${f.botId}`]);
  });

  it('ends an account\'s sessions, sending back-channel logout, and resets its second factors', async () => {
    const received: string[] = [];
    const { createServer } = await import('node:http');
    const receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => { body += chunk.toString(); });
      req.on('end', () => { received.push(new URLSearchParams(body).get('logout_token') ?? ''); res.writeHead(200).end(); });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    try {
      const port = (receiver.address() as { port: number }).port;
      const user = await createAccount(f.t);
      const { client, secret } = await f.t.container.clients.create({ name: 'Logout RP', type: 'web', redirectUris: [redirectUri], backchannelLogoutUri: `http://127.0.0.1:${port}/logout` }, 'test');
      const config = await oidc.discovery(new URL(f.t.issuer), client.clientId, {}, oidc.ClientSecretBasic(secret!), { execute: [oidc.allowInsecureRequests] });
      const rp = { clientId: client.clientId, config };
      const tokens = await signInForTokens(new BrowserAgent(), rp.config, user);
      const sid = tokens.claims()!.sid;

      const ended = await f.api.call('POST', '/accounts/{accountId}/end-sessions', { token: f.writeToken, params: { accountId: user.id } });
      expect(ended).toMatchObject({ status: 200, body: { account: { id: user.id }, sessionsEnded: 1 } });
      expect(received).toHaveLength(1);
      const { decodeJwt } = await import('jose');
      expect(decodeJwt(received[0]!)).toMatchObject({ sub: user.id, sid, aud: rp.clientId });
      expect(await f.t.container.sessionService.list(user.id)).toEqual([]);
      expect((await auditRows(f.t, 'sessions.ended_all')).filter((row) => row.account_id === user.id).map((row) => row.actor)).toEqual([`admin:${f.botId}`]);

      const reset = await f.api.call('POST', '/accounts/{accountId}/reset-mfa', { token: f.writeToken, params: { accountId: user.id } });
      expect(reset).toMatchObject({ status: 200, body: { account: { id: user.id }, factorsRemoved: 0 } });
      expect((await auditRows(f.t, 'mfa.reset')).filter((row) => row.account_id === user.id).map((row) => row.actor)).toEqual([`admin:${f.botId}`]);
    } finally {
      receiver.closeAllConnections();
      await new Promise((resolve) => receiver.close(resolve));
    }
  });

  it('deletes an account with its API keys, and audits who was deleted', async () => {
    const user = await createAccount(f.t, { name: 'Leaving' });
    const key = await f.t.container.apiKeys.create({ owner: { type: 'account', accountId: user.id }, name: 'mine' }, 'test');
    const deleted = await f.api.call('DELETE', '/accounts/{accountId}', { token: f.writeToken, params: { accountId: user.id } });
    expect(deleted.status).toBe(204);
    expect(await f.api.call('GET', '/accounts/{accountId}', { token: f.readToken, params: { accountId: user.id } })).toMatchObject({ status: 404 });
    expect(await f.t.container.apiKeys.verify(key.token)).toBeUndefined();
    expect(await f.t.container.apiKeys.list({ accountId: user.id })).toEqual([]);
    const [event] = (await auditRows(f.t, 'account.deleted')).filter((row) => row.account_id === user.id);
    expect(event).toMatchObject({ actor: `admin:${f.botId}`, details: { email: user.email, name: 'Leaving', apiKeyCount: 1 } });
    expect(await f.api.call('DELETE', '/accounts/{accountId}', { token: f.writeToken, params: { accountId: user.id } })).toMatchObject({ status: 404 });
  });
});

describe('rate limit', () => {
  it('answers 429 with Retry-After past rateLimits.adminApiPerIp, counted before authentication', async () => {
    // Four points: the fixture's fetch of openapi.json is the first request counted.
    const limited = await startAdminApi({ rateLimits: { adminApiPerIp: { points: 4, durationSeconds: 60 } } });
    try {
      expect((await limited.api.call('GET', '/clients', { token: limited.readToken })).status).toBe(200);
      expect((await limited.api.call('GET', '/clients')).status).toBe(401);
      expect((await limited.api.call('GET', '/clients', { token: 'guess' })).status).toBe(401);
      const refused = await limited.api.call('GET', '/clients', { token: limited.readToken });
      expect(refused).toMatchObject({ status: 429, body: { error: 'too_many_attempts' } });
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    } finally {
      await limited.close();
    }
  });
});

describe('unknown addresses', () => {
  it('answers JSON 404 under the prefix even to a browser-like Accept', async () => {
    const response = await fetch(new URL('/admin/api/v1/nothing', f.t.issuer), { headers: { accept: '*/*' } });
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ error: 'not_found' });
  });
});

describe('coverage', () => {
  it('saw every documented status of every /clients and /accounts operation, each body valid against the document', () => {
    expect(f.api.unseen(prefixes)).toEqual([]);
  });
});
