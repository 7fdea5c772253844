import * as oidc from 'openid-client';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiKeyTokenType } from '../../src/api-keys/api-key-format.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

const api = 'https://api.example.test';
const tokenExchange = 'urn:ietf:params:oauth:grant-type:token-exchange';

let t: TestServer;
let worker: { clientId: string; secret: string };
let rs: { clientId: string; secret: string };
let service: oidc.Configuration;

const basic = (clientId: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`;

async function introspect(token: string, authorization = basic(rs.clientId, rs.secret)) {
  const response = await fetch(new URL('/api-keys/introspect', t.issuer), {
    method: 'POST', headers: { authorization, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams({ token }),
  });
  return { status: response.status, headers: response.headers, body: await response.json() as Record<string, unknown> };
}

function exchange(apiKey: string, extra: Record<string, string> = {}) {
  return oidc.genericGrantRequest(service, tokenExchange, { subject_token: apiKey, subject_token_type: apiKeyTokenType, ...extra });
}

async function expectOAuthError(promise: Promise<unknown>, error: string) {
  const failure = await promise.then(() => undefined, (e: unknown) => e as { error?: string });
  expect(failure, 'expected an OAuth error').toBeDefined();
  expect(failure!.error).toBe(error);
}

beforeAll(async () => {
  t = await startTestServer({
    apis: [{ identifier: api, scopes: ['read', 'write'], accessTokenTtl: 900 }],
    introspection: { resourceServers: ['resource-server-1'] },
  });
  const w = await t.container.clients.create({ name: 'Worker', type: 'service' }, 'test');
  worker = { clientId: w.client.clientId, secret: w.secret! };
  const r = await t.container.clients.create({ name: 'Resource server', type: 'service' }, 'test');
  // A known id, listed in introspection.resourceServers: only resource servers may introspect API keys.
  await t.container.dataSource.query(
    'UPDATE clients SET client_id = $1 WHERE client_id = $2', ['resource-server-1', r.client.clientId]);
  rs = { clientId: 'resource-server-1', secret: r.secret! };
  service = await oidc.discovery(new URL(t.issuer), worker.clientId, {}, oidc.ClientSecretBasic(worker.secret), { execute: [oidc.allowInsecureRequests] });
});
afterAll(() => t?.close());

describe('POST /api-keys/introspect', () => {
  it('answers RFC 7662-shaped for an active key', async () => {
    const { key, token } = await t.container.apiKeys.create({ owner: { type: 'service', clientId: worker.clientId }, name: 'ci', scopes: ['read'], api }, 'test');
    const answer = await introspect(token);
    expect(answer.status).toBe(200);
    expect(answer.headers.get('cache-control')).toBe('no-store');
    expect(answer.body).toEqual({ active: true, scope: 'read', client_id: worker.clientId, iat: Math.floor(key.createdAt.getTime() / 1000), token_type: 'api_key', aud: api });
  });

  it('gives personal keys a sub and an exp', async () => {
    const account = await t.container.accounts.create({ email: 'lin@example.com', password: 'correct horse battery staple', verified: true }, 'test');
    const expiresAt = new Date(Date.now() + 86_400_000);
    const { token } = await t.container.apiKeys.create({ owner: { type: 'account', accountId: account.id }, name: 'me', expiresAt }, 'test');
    expect((await introspect(token)).body).toMatchObject({ active: true, sub: account.id, client_id: null, exp: Math.floor(expiresAt.getTime() / 1000) });
  });

  it('answers only { active: false } for unknown, malformed and revoked keys', async () => {
    const { key, token } = await t.container.apiKeys.create({ owner: { type: 'service', clientId: worker.clientId }, name: 'old' }, 'test');
    await t.container.apiKeys.revoke(key.id, 'test');
    for (const value of [token, 'pcl_nope', `pcl_${'0'.repeat(20)}_${'a'.repeat(43)}`]) {
      expect(await introspect(value)).toMatchObject({ status: 200, body: { active: false } });
      expect(Object.keys((await introspect(value)).body)).toEqual(['active']);
    }
  });

  it('refuses bad client authentication with 401 and WWW-Authenticate', async () => {
    const { token } = await t.container.apiKeys.create({ owner: { type: 'service', clientId: worker.clientId }, name: 'x' }, 'test');
    for (const authorization of [basic(rs.clientId, 'wrong'), basic('unknown', rs.secret), '', 'Bearer abc']) {
      const answer = await introspect(token, authorization);
      expect(answer.status).toBe(401);
      expect(answer.headers.get('www-authenticate')).toMatch(/^Basic /);
      expect(answer.body).toMatchObject({ error: 'invalid_client' });
    }
  });
});

describe('token exchange (RFC 8693)', () => {
  it('an API key used, introspected, revoked, and refused afterwards', async () => {
    const account = await t.container.accounts.create({ email: 'ravi@example.com', password: 'correct horse battery staple', verified: true }, 'test');
    const { key, token } = await t.container.apiKeys.create({ owner: { type: 'account', accountId: account.id }, name: 'cli', scopes: ['read', 'write'], api }, 'test');

    const response = await exchange(token, { scope: 'read', resource: api });
    expect(response.token_type.toLowerCase()).toBe('bearer');
    expect(response.expires_in).toBeLessThanOrEqual(300);
    expect(response.issued_token_type).toBe('urn:ietf:params:oauth:token-type:access_token');
    const { payload, protectedHeader } = await jwtVerify(response.access_token, createRemoteJWKSet(new URL('/jwks', t.issuer)), {
      issuer: t.issuer, audience: api, typ: 'at+jwt',
    });
    expect(protectedHeader.typ).toBe('at+jwt');
    expect(payload).toMatchObject({ sub: account.id, client_id: worker.clientId, scope: 'read', aud: api });
    expect(payload.exp! - payload.iat!).toBeLessThanOrEqual(300);

    expect((await introspect(token)).body).toMatchObject({ active: true, sub: account.id });
    expect((await t.container.apiKeys.show(key.id)).lastUsedAt).not.toBeNull();

    await t.container.apiKeys.revoke(key.id, 'test');
    expect((await introspect(token)).body).toEqual({ active: false });
    await expectOAuthError(exchange(token), 'invalid_grant');
  });

  it('gives a service key the owning client as sub and the key\'s scopes by default', async () => {
    const { token } = await t.container.apiKeys.create({ owner: { type: 'service', clientId: rs.clientId }, name: 'svc', scopes: ['write'], api }, 'test');
    const response = await exchange(token);
    const { payload } = await jwtVerify(response.access_token, createRemoteJWKSet(new URL('/jwks', t.issuer)), { issuer: t.issuer, audience: api });
    expect(payload).toMatchObject({ sub: rs.clientId, client_id: worker.clientId, scope: 'write' });
  });

  it('holds the exchanging client to its allowed scopes, also for the key\'s scopes taken by default', async () => {
    const narrow = await t.container.clients.create({ name: 'Narrow worker', type: 'service', allowedScopes: ['read'] }, 'test');
    const narrowService = await oidc.discovery(new URL(t.issuer), narrow.client.clientId, {}, oidc.ClientSecretBasic(narrow.secret!), { execute: [oidc.allowInsecureRequests] });
    const { token } = await t.container.apiKeys.create({ owner: { type: 'service', clientId: narrow.client.clientId }, name: 'both', scopes: ['read', 'write'], api }, 'test');
    const grant = (extra: Record<string, string>) => oidc.genericGrantRequest(narrowService, tokenExchange, { subject_token: token, subject_token_type: apiKeyTokenType, ...extra });
    await expectOAuthError(grant({}), 'invalid_scope');
    await expectOAuthError(grant({ scope: 'write' }), 'invalid_scope');
    expect((await grant({ scope: 'read' })).scope).toBe('read');
  });

  it('refuses wider scopes, another resource, an unknown key and a foreign token type', async () => {
    const { token } = await t.container.apiKeys.create({ owner: { type: 'service', clientId: worker.clientId }, name: 'narrow', scopes: ['read'], api }, 'test');
    await expectOAuthError(exchange(token, { scope: 'write' }), 'invalid_scope');
    await expectOAuthError(exchange(token, { resource: 'https://other.example.test' }), 'invalid_target');
    await expectOAuthError(exchange(`pcl_${'0'.repeat(20)}_${'a'.repeat(43)}`), 'invalid_grant');
    await expectOAuthError(oidc.genericGrantRequest(service, tokenExchange, { subject_token: token, subject_token_type: 'urn:ietf:params:oauth:token-type:access_token' }), 'invalid_request');
  });
});
