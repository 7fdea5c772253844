import * as oidc from 'openid-client';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BrowserAgent, signIn } from '../helpers/browser-agent.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

const orders = 'https://orders.example.test';
const plain = 'https://plain.example.test';
const redirectUri = 'http://127.0.0.1:8765/callback';
const user = { email: 'lin@example.com', password: 'correct horse battery staple' };

let t: TestServer;
let web: oidc.Configuration;
let worker: oidc.Configuration;
let accountId: string;
let workerId: string;

async function discover(clientId: string, secret: string): Promise<oidc.Configuration> {
  return oidc.discovery(new URL(t.issuer), clientId, {}, oidc.ClientSecretBasic(secret), { execute: [oidc.allowInsecureRequests] });
}

function authorizationUrl(params: Record<string, string>) {
  return oidc.buildAuthorizationUrl(web, { redirect_uri: redirectUri, code_challenge: 'x'.repeat(43), code_challenge_method: 'S256', state: 's', ...params });
}

async function codeFlow(params: Record<string, string>) {
  const codeVerifier = oidc.randomPKCECodeVerifier();
  const nonce = oidc.randomNonce();
  const url = oidc.buildAuthorizationUrl(web, {
    redirect_uri: redirectUri, state: 'st', nonce, code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier), code_challenge_method: 'S256', ...params,
  });
  const callback = await signIn(new BrowserAgent(), url, redirectUri, user);
  return oidc.authorizationCodeGrant(web, callback, { pkceCodeVerifier: codeVerifier, expectedState: 'st', expectedNonce: nonce });
}

const verifyAccessToken = (token: string, audience: string) =>
  jwtVerify(token, createRemoteJWKSet(new URL('/jwks', t.issuer)), { issuer: t.issuer, audience }).then((result) => result.payload);

async function expectOAuthError(promise: Promise<unknown>, error: string, description?: RegExp) {
  const failure = await promise.then(() => undefined, (e: unknown) => e as { error?: string; error_description?: string });
  expect(failure, 'expected an OAuth error').toBeDefined();
  expect(failure!.error).toBe(error);
  if (description) expect(failure!.error_description).toMatch(description);
}

beforeAll(async () => {
  t = await startTestServer({
    apis: [
      { identifier: orders, scopes: ['orders:read', 'orders:write', 'orders:admin'], rbac: true },
      { identifier: plain, scopes: ['read', 'write'] },
    ],
  });
  const { rbac, clients, accounts } = t.container;
  const created = await clients.create({ name: 'Web app', type: 'web', redirectUris: [redirectUri] }, 'test');
  web = await discover(created.client.clientId, created.secret!);
  const svc = await clients.create({ name: 'Worker', type: 'service' }, 'test');
  workerId = svc.client.clientId;
  worker = await discover(workerId, svc.secret!);
  accountId = (await accounts.create({ ...user, verified: true }, 'test')).id;

  await rbac.create('clerk', undefined, 'test');
  await rbac.grant('clerk', orders, 'orders:read', 'test');
  await rbac.create('writer', undefined, 'test');
  await rbac.grant('writer', orders, 'orders:read', 'test');
  await rbac.grant('writer', orders, 'orders:write', 'test');
  await rbac.assign('clerk', { account: accountId }, 'test');
  await rbac.assign('writer', { client: workerId }, 'test');
});
afterAll(() => t?.close());

describe('roles scope', () => {
  it('puts the account\'s roles in the ID token and userinfo when the client asks for the roles scope', async () => {
    const tokens = await codeFlow({ scope: 'openid email roles' });
    expect(tokens.claims()!.roles).toEqual(['clerk']);
    expect(await oidc.fetchUserInfo(web, tokens.access_token, accountId)).toMatchObject({ sub: accountId, email: user.email, roles: ['clerk'] });
  });

  it('leaves roles out without the roles scope', async () => {
    const tokens = await codeFlow({ scope: 'openid email' });
    expect(tokens.claims()).not.toHaveProperty('roles');
    expect(await oidc.fetchUserInfo(web, tokens.access_token, accountId)).not.toHaveProperty('roles');
  });

  it('advertises the roles scope and claim', () => {
    expect(web.serverMetadata().scopes_supported).toContain('roles');
    expect(web.serverMetadata().claims_supported).toContain('roles');
  });
});

describe('access tokens for an rbac API', () => {
  it('carries the client\'s roles and only the permissions they allow (client credentials)', async () => {
    const response = await oidc.clientCredentialsGrant(worker, { resource: orders, scope: 'orders:read orders:write orders:admin' });
    expect(response.scope).toBe('orders:read orders:write');
    const payload = await verifyAccessToken(response.access_token, orders);
    expect(payload).toMatchObject({ client_id: workerId, scope: 'orders:read orders:write', roles: ['writer'], permissions: ['orders:read', 'orders:write'] });
  });

  it('grants a client without roles no scope of an rbac API', async () => {
    const bare = await t.container.clients.create({ name: 'Bare', type: 'service' }, 'test');
    const response = await oidc.clientCredentialsGrant(await discover(bare.client.clientId, bare.secret!), { resource: orders, scope: 'orders:read' });
    const payload = await verifyAccessToken(response.access_token, orders);
    expect(payload).not.toHaveProperty('scope');
    expect(payload).toMatchObject({ roles: [], permissions: [] });
  });

  it('carries the account\'s roles and drops scopes they don\'t allow (authorization code)', async () => {
    const tokens = await codeFlow({ scope: 'openid orders:read orders:write', resource: orders });
    const payload = await verifyAccessToken(tokens.access_token, orders);
    expect(payload).toMatchObject({ sub: accountId, scope: 'orders:read', roles: ['clerk'], permissions: ['orders:read'] });
  });

  it('keeps every requested declared scope for an API without rbac, and lists the permissions roles allow', async () => {
    const response = await oidc.clientCredentialsGrant(worker, { resource: plain, scope: 'read write' });
    const payload = await verifyAccessToken(response.access_token, plain);
    expect(payload).toMatchObject({ scope: 'read write', roles: ['writer'], permissions: [] });
  });
});

describe('unknown scopes', () => {
  it('are refused at the authorization endpoint with a redirect carrying invalid_scope', async () => {
    const cases: Array<Record<string, string>> = [{ scope: 'openid bogus' }, { scope: 'openid orders:read' }, { scope: 'openid orders:delete', resource: orders }];
    for (const params of cases) {
      const response = await new BrowserAgent().request(authorizationUrl(params));
      expect(response.status, JSON.stringify(params)).toBe(303);
      expect(response.location!.href.startsWith(redirectUri)).toBe(true);
      expect(response.location!.searchParams.get('error')).toBe('invalid_scope');
      expect(response.location!.searchParams.get('error_description')).toMatch(/scope not declared by/);
    }
  });

  it('are refused at the token endpoint', async () => {
    await expectOAuthError(oidc.clientCredentialsGrant(worker, { scope: 'bogus' }), 'invalid_scope', /scope not declared by any requested resource/);
    await expectOAuthError(oidc.clientCredentialsGrant(worker, { scope: 'orders:read' }), 'invalid_scope');
    await expectOAuthError(oidc.clientCredentialsGrant(worker, { resource: orders, scope: 'orders:read bogus' }), 'invalid_scope', new RegExp(`scope not declared by ${orders}`));
    await expectOAuthError(oidc.clientCredentialsGrant(worker, { resource: plain, scope: 'orders:read' }), 'invalid_scope');
  });

  it('still allow OIDC scopes without a resource', async () => {
    const response = await new BrowserAgent().request(authorizationUrl({ scope: 'openid email profile roles offline_access' }));
    expect(response.location?.searchParams.get('error') ?? null).toBeNull();
  });
});
