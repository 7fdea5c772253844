import * as oidc from 'openid-client';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { BrowserAgent, formAction, formValue, signIn } from '../helpers/browser-agent.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

const api = 'https://api.example.test';
const redirectUri = 'http://127.0.0.1:8765/callback';
const user = { email: 'ada@example.com', password: 'correct horse battery staple' };

let t: TestServer;
let web: oidc.Configuration;
let service: oidc.Configuration;
let accountId: string;

async function discover(clientId: string, secret?: string): Promise<oidc.Configuration> {
  const config = await oidc.discovery(new URL(t.issuer), clientId, secret ? {} : { token_endpoint_auth_method: 'none' },
    secret ? oidc.ClientSecretBasic(secret) : oidc.None(), { execute: [oidc.allowInsecureRequests] });
  return config;
}

/** Runs the authorization code flow with PKCE through the hosted pages; returns the callback URL and checks. */
async function authorize(config: oidc.Configuration, extra: Record<string, string> = {}, agent = new BrowserAgent()) {
  const codeVerifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri, scope: 'openid email', state, nonce,
    code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier), code_challenge_method: 'S256', ...extra,
  });
  const callback = await signIn(agent, url, redirectUri, user);
  return { callback, codeVerifier, state, nonce };
}

async function codeFlow(config: oidc.Configuration, extra: Record<string, string> = {}) {
  const { callback, codeVerifier, state, nonce } = await authorize(config, extra);
  return oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: codeVerifier, expectedState: state, expectedNonce: nonce });
}

/** The raw token endpoint answer for a code, without openid-client's checks (for replay tests). */
async function redeem(callback: URL, codeVerifier: string, clientId: string, secret: string) {
  const response = await fetch(new URL('/token', t.issuer), {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'authorization_code', code: callback.searchParams.get('code')!, redirect_uri: redirectUri, code_verifier: codeVerifier }),
  });
  return { status: response.status, body: await response.json() as Record<string, string> };
}

async function expectOAuthError(promise: Promise<unknown>, error: string, description?: RegExp) {
  const failure = await promise.then(() => undefined, (e: unknown) => e as { error?: string; error_description?: string });
  expect(failure, 'expected an OAuth error').toBeDefined();
  expect(failure!.error).toBe(error);
  if (description) expect(failure!.error_description).toMatch(description);
}

let webClient: { clientId: string; secret: string };
const rs = { clientId: 'resource-server-1', secret: '' };

beforeAll(async () => {
  t = await startTestServer({ apis: [{ identifier: api, scopes: ['read', 'write'], accessTokenTtl: 300 }], introspection: { resourceServers: [rs.clientId] } });
  // A service client with a known id, registered as the resource server allowed to introspect.
  const registered = await t.container.clients.create({ name: 'Resource server', type: 'service' }, 'test');
  await t.container.dataSource.query('UPDATE clients SET client_id = $1 WHERE client_id = $2', [rs.clientId, registered.client.clientId]);
  rs.secret = registered.secret!;
  const created = await t.container.clients.create({ name: 'Web app', type: 'web', redirectUris: [redirectUri] }, 'test');
  webClient = { clientId: created.client.clientId, secret: created.secret! };
  const svc = await t.container.clients.create({ name: 'Worker', type: 'service' }, 'test');
  accountId = (await t.container.accounts.create({ ...user, verified: true }, 'test')).id;
  web = await discover(webClient.clientId, webClient.secret);
  service = await discover(svc.client.clientId, svc.secret!);
});
afterAll(() => t?.close());

describe('discovery and keys', () => {
  it('advertises only the code flow with S256 PKCE and every endpoint the issue names', () => {
    const meta = web.serverMetadata();
    expect(meta.issuer).toBe(t.issuer);
    expect(meta.response_types_supported).toEqual(['code']);
    expect(meta.code_challenge_methods_supported).toEqual(['S256']);
    for (const endpoint of ['authorization_endpoint', 'token_endpoint', 'userinfo_endpoint', 'jwks_uri', 'introspection_endpoint', 'revocation_endpoint', 'end_session_endpoint'] as const) {
      expect(meta[endpoint], endpoint).toMatch(new RegExp(`^${t.issuer}/`));
    }
    expect(meta.grant_types_supported).toEqual(expect.arrayContaining(['authorization_code', 'refresh_token', 'client_credentials']));
  });

  it('publishes the key stored in the database and no private member', async () => {
    const jwks = await (await fetch(new URL('/jwks', t.issuer))).json() as { keys: Array<Record<string, unknown>> };
    const stored = await t.container.keys.list();
    expect(jwks.keys.map((k) => k.kid)).toEqual(stored.map((k) => k.kid));
    for (const key of jwks.keys) for (const member of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']) expect(key).not.toHaveProperty(member);
  });
});

describe('authorization code flow with PKCE', () => {
  it('signs in through the hosted login page and returns verifiable tokens and claims', async () => {
    const tokens = await codeFlow(web);
    const claims = tokens.claims()!;
    expect(claims.sub).toBe(accountId);
    expect(claims.iss).toBe(t.issuer);
    expect(claims.aud).toBe(webClient.clientId);
    expect(claims.amr).toEqual(['pwd']);
    const { kid } = decodeProtectedHeader(tokens.id_token!);
    expect((await t.container.keys.list()).find((k) => k.status === 'signing')!.kid).toBe(kid);
    const userinfo = await oidc.fetchUserInfo(web, tokens.access_token, accountId);
    expect(userinfo).toMatchObject({ sub: accountId, email: user.email, email_verified: true });
  });

  it('refuses an authorization request without a code challenge', async () => {
    const url = oidc.buildAuthorizationUrl(web, { redirect_uri: redirectUri, scope: 'openid', state: 'abc' });
    const response = await new BrowserAgent().request(url);
    expect(response.status).toBe(303);
    expect(response.location!.href.startsWith(redirectUri)).toBe(true);
    expect(response.location!.searchParams.get('error')).toBe('invalid_request');
    expect(response.location!.searchParams.get('error_description')).toMatch(/PKCE/);
  });

  it('refuses a plain code challenge method', async () => {
    const url = oidc.buildAuthorizationUrl(web, { redirect_uri: redirectUri, scope: 'openid', code_challenge: 'x'.repeat(43), code_challenge_method: 'plain' });
    const response = await new BrowserAgent().request(url);
    expect(response.location!.searchParams.get('error')).toBe('invalid_request');
  });

  it('refuses a wrong code verifier', async () => {
    const { callback } = await authorize(web);
    const { status, body } = await redeem(callback, oidc.randomPKCECodeVerifier(), webClient.clientId, webClient.secret);
    expect(status).toBe(400);
    expect(body.error).toBe('invalid_grant');
  });

  it('refuses a redirect_uri that is not registered exactly', async () => {
    const url = oidc.buildAuthorizationUrl(web, { redirect_uri: `${redirectUri}/x`, scope: 'openid', code_challenge: 'x'.repeat(43), code_challenge_method: 'S256' });
    const response = await new BrowserAgent().request(url);
    expect(response.status).toBe(400);
    expect(response.location).toBeUndefined();
    expect(response.html).toMatch(/redirect_uri did not match/);
  });

  it('refuses a replayed code and revokes what the first redemption issued', async () => {
    const { callback, codeVerifier } = await authorize(web);
    const first = await redeem(callback, codeVerifier, webClient.clientId, webClient.secret);
    expect(first.status).toBe(200);
    const replay = await redeem(callback, codeVerifier, webClient.clientId, webClient.secret);
    expect(replay.status).toBe(400);
    expect(replay.body).toMatchObject({ error: 'invalid_grant', error_description: 'grant request is invalid' });
    const introspection = await oidc.tokenIntrospection(web, first.body.access_token!);
    expect(introspection.active).toBe(false);
  });

  it('lets exactly one of 10 parallel redemptions of one code succeed', async () => {
    const { callback, codeVerifier } = await authorize(web);
    const results = await Promise.all(Array.from({ length: 10 }, () => redeem(callback, codeVerifier, webClient.clientId, webClient.secret)));
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    const failures = results.filter((r) => r.status !== 200);
    expect(failures).toHaveLength(9);
    for (const failure of failures) expect(failure).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
  });

  it('rejects a bad password with one generic message, and a CSRF-less POST with 403', async () => {
    const agent = new BrowserAgent();
    const url = oidc.buildAuthorizationUrl(web, { redirect_uri: redirectUri, scope: 'openid', code_challenge: 'x'.repeat(43), code_challenge_method: 'S256' });
    const page = await agent.follow(url);
    const action = new URL(formAction(page.html, '/login')!, page.url);
    const csrf = formValue(page.html, 'csrf')!;
    const wrong = await agent.request(action, { form: { csrf, email: user.email, password: 'wrong password' } });
    const unknown = await agent.request(action, { form: { csrf, email: 'nobody@example.com', password: 'wrong password' } });
    expect(wrong.status).toBe(400);
    expect(unknown.status).toBe(400);
    const message = (html: string) => /role="alert">([^<]+)</.exec(html)?.[1];
    expect(message(wrong.html)).toBe('The email or password is incorrect.');
    expect(message(unknown.html)).toBe(message(wrong.html));
    const forged = await agent.request(action, { form: { email: user.email, password: user.password } });
    expect(forged.status).toBe(403);
    expect(forged.html).not.toMatch(/at .*\.ts:\d+/);
  });
});

describe('refresh tokens', () => {
  it('rotate on every use, and reuse of a rotated token revokes the grant', async () => {
    const tokens = await codeFlow(web, { scope: 'openid offline_access', prompt: 'consent' });
    const first = tokens.refresh_token!;
    expect(first).toBeTruthy();
    const rotated = await oidc.refreshTokenGrant(web, first);
    expect(rotated.refresh_token).toBeTruthy();
    expect(rotated.refresh_token).not.toBe(first);
    await expectOAuthError(oidc.refreshTokenGrant(web, first), 'invalid_grant');
    await expectOAuthError(oidc.refreshTokenGrant(web, rotated.refresh_token!), 'invalid_grant');
    expect((await oidc.tokenIntrospection(web, rotated.access_token)).active).toBe(false);
  });
});

describe('introspection without a token_type_hint', () => {
  /** SQL statements that looked up a RefreshToken row while `step` ran. */
  async function refreshTokenQueries(step: () => Promise<unknown>): Promise<number> {
    const query = vi.spyOn(t.container.dataSource, 'query');
    try {
      await step();
      return query.mock.calls.filter(([sql, params]) => /FROM oidc_model_instances/.test(String(sql)) && (params as unknown[] | undefined)?.[0] === 'RefreshToken').length;
    } finally {
      query.mockRestore();
    }
  }

  it('finds refresh and access tokens, and never looks for an access token among the refresh tokens', async () => {
    const tokens = await codeFlow(web, { scope: 'openid offline_access', prompt: 'consent' });
    const { access_token: service_token } = await oidc.clientCredentialsGrant(service);
    // 264-bit access tokens, 256-bit refresh tokens: the length tells them apart (token-id-shapes.ts).
    expect(tokens.access_token).toMatch(/^[\w-]{44}$/);
    expect(service_token).toMatch(/^[\w-]{44}$/);
    expect(tokens.refresh_token).toMatch(/^[\w-]{43}$/);

    expect(await refreshTokenQueries(async () => {
      expect(await oidc.tokenIntrospection(web, tokens.access_token)).toMatchObject({ active: true, token_type: 'Bearer' });
      expect((await oidc.tokenIntrospection(service, service_token)).active).toBe(true);
    })).toBe(0);
    expect(await refreshTokenQueries(async () => {
      expect(await oidc.tokenIntrospection(web, tokens.refresh_token!)).toMatchObject({ active: true, sub: accountId });
    })).toBe(1);
  });
});

describe('client credentials, resource indicators, introspection and revocation', () => {
  it('issues an opaque token without a resource and an RFC 9068 JWT for a registered API', async () => {
    const opaque = await oidc.clientCredentialsGrant(service);
    expect(opaque.access_token.split('.')).toHaveLength(1);
    const jwt = await oidc.clientCredentialsGrant(service, { resource: api, scope: 'read' });
    const { payload, protectedHeader } = await jwtVerify(jwt.access_token, createRemoteJWKSet(new URL('/jwks', t.issuer)), { issuer: t.issuer, audience: api });
    expect(protectedHeader.typ).toBe('at+jwt');
    expect(payload.scope).toBe('read');
    expect(payload.client_id).toBe(service.clientMetadata().client_id);
    expect(jwt.expires_in).toBeLessThanOrEqual(300);
  });

  it('refuses an unknown resource and a scope the API does not declare', async () => {
    await expectOAuthError(oidc.clientCredentialsGrant(service, { resource: 'https://unknown.example.test' }), 'invalid_target');
    await expectOAuthError(oidc.clientCredentialsGrant(service, { resource: api, scope: 'delete' }), 'invalid_scope');
  });

  it("answers inactive to a client introspecting another client's token, unless it is a registered resource server", async () => {
    const { access_token } = await oidc.clientCredentialsGrant(service);
    const other = await t.container.clients.create({ name: 'Nosy', type: 'service' }, 'test');
    const nosy = await discover(other.client.clientId, other.secret!);
    expect((await oidc.tokenIntrospection(nosy, access_token)).active).toBe(false);
    const resourceServer = await oidc.tokenIntrospection(await discover(rs.clientId, rs.secret), access_token);
    expect(resourceServer.active).toBe(true);
  });

  it('introspects a live token as active and a revoked one as inactive', async () => {
    const { access_token } = await oidc.clientCredentialsGrant(service);
    const live = await oidc.tokenIntrospection(service, access_token);
    expect(live.active).toBe(true);
    expect(live.client_id).toBe(service.clientMetadata().client_id);
    await oidc.tokenRevocation(service, access_token);
    expect((await oidc.tokenIntrospection(service, access_token)).active).toBe(false);
  });
});

describe('logout', () => {
  it('shows our confirmation page for RP-initiated logout', async () => {
    const agent = new BrowserAgent();
    const { callback, codeVerifier, state, nonce } = await authorize(web, {}, agent);
    const tokens = await oidc.authorizationCodeGrant(web, callback, { pkceCodeVerifier: codeVerifier, expectedState: state, expectedNonce: nonce });
    const url = oidc.buildEndSessionUrl(web, { id_token_hint: tokens.id_token! });
    const page = await agent.request(url);
    expect(page.status).toBe(200);
    expect(page.html).toMatch(/Sign out/);
    expect(page.headers.get('content-security-policy')).toMatch(/default-src 'none'/);
  });
});
