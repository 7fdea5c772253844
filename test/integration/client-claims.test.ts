import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClientInput } from '../../src/clients/client-service.js';
import { BrowserAgent, signIn } from '../helpers/browser-agent.js';
import { cliRunner } from '../helpers/cli-runner.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

const orders = 'https://orders.example.test';
const redirectUri = 'http://127.0.0.1:8765/callback';
const user = { email: 'ines@example.com', password: 'correct horse battery staple', name: 'Inès' };

let t: TestServer;
let accountId: string;
const { cli, cliJson } = cliRunner(() => t.env);

beforeAll(async () => {
  t = await startTestServer({ apis: [{ identifier: orders, scopes: ['orders:read', 'orders:write'] }] });
  accountId = (await t.container.accounts.create({ ...user, verified: true }, 'test')).id;
  await t.container.rbac.create('clerk', undefined, 'test');
  await t.container.rbac.assign('clerk', { account: accountId }, 'test');
});
afterAll(() => t?.close());

/** A web client with these claim settings, as openid-client sees it. */
async function webClient(settings: Partial<ClientInput> = {}): Promise<oidc.Configuration> {
  const { client, secret } = await t.container.clients.create({ name: 'Web app', type: 'web', redirectUris: [redirectUri], ...settings }, 'test');
  return oidc.discovery(new URL(t.issuer), client.clientId, {}, oidc.ClientSecretBasic(secret!), { execute: [oidc.allowInsecureRequests] });
}

async function serviceClient(settings: Partial<ClientInput> = {}): Promise<oidc.Configuration> {
  const { client, secret } = await t.container.clients.create({ name: 'Worker', type: 'service', ...settings }, 'test');
  return oidc.discovery(new URL(t.issuer), client.clientId, {}, oidc.ClientSecretBasic(secret!), { execute: [oidc.allowInsecureRequests] });
}

/** Signs in through the hosted pages and redeems the code. */
async function codeFlow(config: oidc.Configuration, scope: string) {
  const codeVerifier = oidc.randomPKCECodeVerifier();
  const nonce = oidc.randomNonce();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri, scope, state: 'st', nonce, code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier), code_challenge_method: 'S256',
  });
  const callback = await signIn(new BrowserAgent(), url, redirectUri, user);
  return oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: codeVerifier, expectedState: 'st', expectedNonce: nonce });
}

/** The error an authorization request is redirected back with, before anyone signs in. */
async function authorizationError(config: oidc.Configuration, params: Record<string, string>) {
  const url = oidc.buildAuthorizationUrl(config, { redirect_uri: redirectUri, state: 'st', code_challenge: 'x'.repeat(43), code_challenge_method: 'S256', ...params });
  const answer = await new BrowserAgent().request(url);
  expect(answer.location?.href.startsWith(redirectUri), answer.html.slice(0, 300)).toBe(true);
  return Object.fromEntries(answer.location!.searchParams);
}

async function oauthError(promise: Promise<unknown>) {
  const failure = await promise.then(() => undefined, (error: unknown) => error as { error?: string; error_description?: string });
  expect(failure, 'expected an OAuth error').toBeDefined();
  return failure!;
}

describe('ID token claims per client', () => {
  it('puts roles in the ID token by default (roles scope), other scope claims only in userinfo', async () => {
    const config = await webClient();
    const tokens = await codeFlow(config, 'openid email profile roles');
    const claims = tokens.claims()!;
    expect(claims.roles).toEqual(['clerk']);
    expect(claims).not.toHaveProperty('email');
    expect(claims).not.toHaveProperty('name');
    expect(await oidc.fetchUserInfo(config, tokens.access_token, accountId)).toMatchObject({ email: user.email, name: user.name, roles: ['clerk'] });
  });

  it('puts the configured claims in the ID token, each only when its scope is granted', async () => {
    const config = await webClient({ idTokenClaims: ['roles', 'email', 'name'] });
    const all = (await codeFlow(config, 'openid email profile roles')).claims()!;
    expect(all).toMatchObject({ sub: accountId, roles: ['clerk'], email: user.email, name: user.name });
    expect(all).not.toHaveProperty('email_verified');
    expect(all.amr).toEqual(['pwd']);
    const some = (await codeFlow(config, 'openid email')).claims()!;
    expect(some.email).toBe(user.email);
    expect(some).not.toHaveProperty('roles');
    expect(some).not.toHaveProperty('name');
  });

  it('leaves roles out of the ID token when the client\'s list omits them; userinfo still has them', async () => {
    const config = await webClient({ idTokenClaims: [] });
    const tokens = await codeFlow(config, 'openid email roles');
    const claims = tokens.claims()!;
    expect(claims).not.toHaveProperty('roles');
    expect(claims).not.toHaveProperty('email');
    expect(claims.sub).toBe(accountId);
    expect(await oidc.fetchUserInfo(config, tokens.access_token, accountId)).toMatchObject({ email: user.email, roles: ['clerk'] });
  });

  it('keeps the list on refreshed ID tokens', async () => {
    const config = await webClient({ idTokenClaims: ['email'] });
    const codeVerifier = oidc.randomPKCECodeVerifier();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri, scope: 'openid email roles offline_access', prompt: 'consent', state: 'st', code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier), code_challenge_method: 'S256',
    });
    const tokens = await oidc.authorizationCodeGrant(config, await signIn(new BrowserAgent(), url, redirectUri, user), { pkceCodeVerifier: codeVerifier, expectedState: 'st' });
    const refreshed = (await oidc.refreshTokenGrant(config, tokens.refresh_token!)).claims()!;
    expect(refreshed.email).toBe(user.email);
    expect(refreshed).not.toHaveProperty('roles');
  });
});

describe('allowed scopes per client', () => {
  it('refuses a scope outside the list at the authorization endpoint (invalid_scope)', async () => {
    const config = await webClient({ allowedScopes: ['openid', 'email'] });
    expect(await authorizationError(config, { scope: 'openid email roles' })).toMatchObject({ error: 'invalid_scope', state: 'st' });
    // An API's scope counts too.
    expect(await authorizationError(config, { scope: 'openid orders:read', resource: orders })).toMatchObject({ error: 'invalid_scope' });
    // Within the list, the flow works.
    const claims = (await codeFlow(config, 'openid email')).claims()!;
    expect(claims.sub).toBe(accountId);
  });

  it('refuses a scope outside the list at the token endpoint (client credentials)', async () => {
    const worker = await serviceClient({ allowedScopes: ['orders:read'] });
    const failure = await oauthError(oidc.clientCredentialsGrant(worker, { scope: 'orders:read orders:write', resource: orders }));
    expect(failure.error).toBe('invalid_scope');
    expect(failure.error_description).toBe('scope not allowed for this client');
    const granted = await oidc.clientCredentialsGrant(worker, { scope: 'orders:read', resource: orders });
    expect(granted.scope).toBe('orders:read');
  });

  it('allows any scope without a list', async () => {
    const worker = await serviceClient();
    expect((await oidc.clientCredentialsGrant(worker, { scope: 'orders:read orders:write', resource: orders })).scope).toBe('orders:read orders:write');
  });
});

describe('claim settings on the service, CLI and checks', () => {
  it('refuses settings that cannot work, naming the problem', async () => {
    const create = (settings: Partial<ClientInput>, type: ClientInput['type'] = 'web') =>
      t.container.clients.create({ name: 'Bad', type, redirectUris: type === 'service' ? [] : [redirectUri], ...settings }, 'test').then(() => undefined, (error: Error & { code?: string }) => error);
    expect(await create({ allowedScopes: ['email'] })).toMatchObject({ code: 'invalid_client_settings', message: 'allowedScopes of a web client must include openid' });
    expect(await create({ allowedScopes: ['openid', 'bad scope'] })).toMatchObject({ code: 'invalid_client_settings' });
    expect(await create({ idTokenClaims: ['phone_number'] })).toMatchObject({ code: 'invalid_client_settings', message: expect.stringContaining('phone_number') });
    expect(await create({ idTokenClaims: ['roles'] }, 'service')).toMatchObject({ code: 'invalid_client_settings' });
  });

  it('sets and clears them with clients create and update', async () => {
    const created = await cliJson(['clients', 'create', '--name', 'CLI app', '--type', 'web', '--redirect-uri', redirectUri,
      '--allowed-scopes', 'openid email roles email', '--id-token-claims', 'roles email']);
    expect(created).toMatchObject({ allowed_scopes: ['openid', 'email', 'roles'], id_token_claims: ['roles', 'email'] });
    const clientId = String(created.client_id);
    expect(await cliJson(['clients', 'update', clientId, '--id-token-claims', 'none'])).toMatchObject({ id_token_claims: [], allowed_scopes: ['openid', 'email', 'roles'] });
    expect(await cliJson(['clients', 'update', clientId, '--allowed-scopes', 'any', '--id-token-claims', 'default'])).toMatchObject({ allowed_scopes: null, id_token_claims: null });
    const refused = await cli(['clients', 'update', clientId, '--id-token-claims', 'address']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('address');
    const events = await t.container.dataSource.query(`SELECT details FROM audit_events WHERE type = 'client.updated' AND client_id = $1 ORDER BY id`, [clientId]);
    // Each update is audited with what changed (the redactor hides list values under "...token..." keys).
    expect(events.map((event: { details: { after: object } }) => Object.keys(event.details.after))).toEqual([['idTokenClaims'], ['allowedScopes', 'idTokenClaims']]);
    expect(events[1].details.before.allowedScopes).toEqual(['openid', 'email', 'roles']);
  });
});
