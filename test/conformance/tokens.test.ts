import * as oidc from 'openid-client';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { BrowserAgent } from '../helpers/browser-agent.js';
import { auditEvents, createAccount, finishAtCallback, openPage, redirectUri, submitLogin } from '../helpers/accounts-fixtures.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';
import type { ClientInput } from '../../src/clients/client-service.js';

let t: TestServer;
let user: { id: string; email: string; password: string };

const insecure = { execute: [oidc.allowInsecureRequests] };

/** A client registered with `settings` and its openid-client configuration. */
async function register(type: 'web' | 'spa', settings: Partial<ClientInput> = {}) {
  const { client, secret } = await t.container.clients.create({ name: `${type} app`, type, redirectUris: [redirectUri], ...settings }, 'test');
  const config = secret
    ? await oidc.discovery(new URL(t.issuer), client.clientId, {}, oidc.ClientSecretBasic(secret), insecure)
    : await oidc.discovery(new URL(t.issuer), client.clientId, { token_endpoint_auth_method: 'none' }, oidc.None(), insecure);
  return { clientId: client.clientId, config };
}

/** Code flow with PKCE through the hosted pages; `par` pushes the request first (RFC 9126). */
async function codeFlow(config: oidc.Configuration, options: { DPoP?: oidc.DPoPHandle; par?: boolean; params?: Record<string, string> } = {}) {
  const codeVerifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const params = {
    redirect_uri: redirectUri, scope: 'openid email offline_access', prompt: 'consent', state, nonce,
    code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier), code_challenge_method: 'S256', ...options.params,
  };
  const url = options.par ? await oidc.buildAuthorizationUrlWithPAR(config, params, { DPoP: options.DPoP }) : oidc.buildAuthorizationUrl(config, params);
  const agent = new BrowserAgent();
  const callback = await finishAtCallback(agent, await submitLogin(agent, await openPage(agent, url), user));
  return oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: codeVerifier, expectedState: state, expectedNonce: nonce }, undefined, { DPoP: options.DPoP });
}

async function expectOAuthError(promise: Promise<unknown>, error: string, description?: RegExp) {
  const failure = await promise.then(() => undefined, (e: unknown) => e as { error?: string; error_description?: string });
  expect(failure, 'expected an OAuth error').toBeDefined();
  expect(failure!.error).toBe(error);
  if (description) expect(failure!.error_description).toMatch(description);
}

beforeAll(async () => {
  t = await startTestServer();
  user = await createAccount(t);
});
afterAll(() => t?.close());

describe('per-client token lifetimes', () => {
  it('uses the client\'s access, ID and refresh token lifetimes, and keeps the refresh lifetime absolute across rotation', async () => {
    const { config } = await register('web', { accessTokenTtl: 120, idTokenTtl: 240, refreshTokenTtl: 900 });
    const tokens = await codeFlow(config);
    expect(tokens.expires_in).toBe(120);
    const idToken = decodeJwt(tokens.id_token!);
    expect(idToken.exp! - idToken.iat!).toBe(240);
    const first = await oidc.tokenIntrospection(config, tokens.refresh_token!);
    expect(first.exp! - first.iat!).toBe(900);

    // Move the server's clock (it runs in this process) instead of waiting.
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 60_000 });
    try {
      const rotated = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
      const second = await oidc.tokenIntrospection(config, rotated.refresh_token!);
      expect(second.active).toBe(true);
      expect(second.exp).toBe(first.exp);
    } finally {
      vi.useRealTimers();
    }
  });

  it('gives each rotated refresh token only the idle lifetime, within the absolute one', async () => {
    const { config } = await register('web', { refreshTokenTtl: 3600, refreshTokenIdleTtl: 600 });
    const tokens = await codeFlow(config);
    const refresh = await oidc.tokenIntrospection(config, tokens.refresh_token!);
    expect(refresh.exp! - refresh.iat!).toBe(600);
  });

  it('falls back to the global lifetimes', async () => {
    const { config } = await register('web');
    const tokens = await codeFlow(config);
    expect(tokens.expires_in).toBe(t.container.config.ttl.accessToken);
    const idToken = decodeJwt(tokens.id_token!);
    expect(idToken.exp! - idToken.iat!).toBe(t.container.config.ttl.idToken);
    const refresh = await oidc.tokenIntrospection(config, tokens.refresh_token!);
    expect(refresh.exp! - refresh.iat!).toBe(t.container.config.ttl.refreshToken);
  });
});

describe('refresh token grace window', () => {
  it('lets a client with a window retry a refresh whose response was lost, without revoking the grant', async () => {
    const { config } = await register('web', { refreshTokenGraceSeconds: 10 });
    const tokens = await codeFlow(config);
    const first = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    const retried = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    expect(retried.refresh_token).not.toBe(first.refresh_token);
    expect((await oidc.tokenIntrospection(config, first.refresh_token!)).active).toBe(true);
    expect((await oidc.tokenIntrospection(config, retried.access_token)).active).toBe(true);
  });
});

describe('refresh token reuse', () => {
  it('revokes the grant and audits token.refresh_reuse_detected', async () => {
    const { clientId, config } = await register('web');
    const tokens = await codeFlow(config);
    const rotated = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    await expectOAuthError(oidc.refreshTokenGrant(config, tokens.refresh_token!), 'invalid_grant');
    await expectOAuthError(oidc.refreshTokenGrant(config, rotated.refresh_token!), 'invalid_grant');
    // Recorded from oidc-provider's grant.error event, after the response: poll for it.
    const reuse = async () => (await auditEvents(t, user.id)).filter((e) => e.type === 'token.refresh_reuse_detected' && e.client_id === clientId);
    await expect.poll(reuse).toHaveLength(1);
    const events = await reuse();
    expect(events[0]).toMatchObject({ client_id: clientId, details: { grantRevoked: true, grantId: expect.any(String) } });
  });
});

describe('DPoP (RFC 9449)', () => {
  it('binds a public client\'s tokens to its proof key: the access token is refused as a bearer token', async () => {
    const { config } = await register('spa');
    const DPoP = oidc.getDPoPHandle(config, await oidc.randomDPoPKeyPair());
    const tokens = await codeFlow(config, { DPoP });
    expect(tokens.token_type.toLowerCase()).toBe('dpop');
    expect(await oidc.fetchUserInfo(config, tokens.access_token, user.id, { DPoP })).toMatchObject({ sub: user.id });

    const userinfo = new URL(config.serverMetadata().userinfo_endpoint!);
    const asBearer = await fetch(userinfo, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(asBearer.status).toBe(401);
    expect(asBearer.headers.get('www-authenticate')).toMatch(/invalid_token/);
    const withoutProof = await fetch(userinfo, { headers: { authorization: `DPoP ${tokens.access_token}` } });
    expect(withoutProof.status).toBe(400);
    expect(withoutProof.headers.get('www-authenticate')).toMatch(/invalid_request/);
  });

  it('refuses to refresh a bound refresh token with another key or without a proof', async () => {
    const { config } = await register('spa');
    const DPoP = oidc.getDPoPHandle(config, await oidc.randomDPoPKeyPair());
    const tokens = await codeFlow(config, { DPoP });
    const otherKey = oidc.getDPoPHandle(config, await oidc.randomDPoPKeyPair());
    await expectOAuthError(oidc.refreshTokenGrant(config, tokens.refresh_token!, undefined, { DPoP: otherKey }), 'invalid_grant');
    await expectOAuthError(oidc.refreshTokenGrant(config, tokens.refresh_token!), 'invalid_grant');
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!, undefined, { DPoP });
    expect(refreshed.token_type.toLowerCase()).toBe('dpop');
  });

  it('refuses a --require-dpop client\'s token request without a proof', async () => {
    const { config } = await register('web', { requireDpop: true });
    expect(await t.container.clients.oidcMetadata(config.clientMetadata().client_id)).toMatchObject({ dpop_bound_access_tokens: true });
    await expectOAuthError(codeFlow(config), 'invalid_grant');
    const DPoP = oidc.getDPoPHandle(config, await oidc.randomDPoPKeyPair());
    expect((await codeFlow(config, { DPoP })).token_type.toLowerCase()).toBe('dpop');
  });
});

describe('pushed authorization requests (RFC 9126)', () => {
  it('completes a code flow started with a pushed request', async () => {
    const { config } = await register('web');
    expect(config.serverMetadata().pushed_authorization_request_endpoint).toBe(`${t.issuer}/request`);
    const tokens = await codeFlow(config, { par: true });
    expect(tokens.claims()!.sub).toBe(user.id);
  });

  it('refuses a plain authorization request from a --require-par client', async () => {
    const { config } = await register('web', { requirePar: true });
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri, scope: 'openid', state: 'abc', code_challenge: 'x'.repeat(43), code_challenge_method: 'S256',
    });
    const response = await new BrowserAgent().request(url);
    const error = response.location?.searchParams.get('error') ?? response.html;
    expect(error).toMatch(/invalid_request/);
    expect(response.location?.searchParams.get('error_description') ?? response.html).toMatch(/Pushed Authorization Request must be used/);
    expect((await codeFlow(config, { par: true })).claims()!.sub).toBe(user.id);
  });
});
