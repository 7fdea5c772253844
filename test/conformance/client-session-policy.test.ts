import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { BrowserAgent, formAction } from '../helpers/browser-agent.js';
import { createAccount, finishAtCallback, openPage, redirectUri, submitLogin } from '../helpers/accounts-fixtures.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

let t: TestServer;
let user: { id: string; email: string; password: string };

async function client(settings: { sessionMaxAge?: number; sessionIdleTtl?: number }) {
  const { client: created, secret } = await t.container.clients.create({ name: 'Strict session', type: 'web', redirectUris: [redirectUri], ...settings }, 'test');
  return oidc.discovery(new URL(t.issuer), created.clientId, {}, oidc.ClientSecretBasic(secret!), { execute: [oidc.allowInsecureRequests] });
}

async function authorize(config: oidc.Configuration) {
  return oidc.buildAuthorizationUrl(config, { redirect_uri: redirectUri, scope: 'openid', code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()), code_challenge_method: 'S256' });
}

beforeAll(async () => {
  t = await startTestServer({ captcha: { provider: 'none' } });
  user = await createAccount(t);
});
afterAll(() => t?.close());

describe('per-client session limits', () => {
  it('asks for a fresh sign-in once the session is older than the client\'s --session-max-age', async () => {
    const config = await client({ sessionMaxAge: 300 });
    const agent = new BrowserAgent();
    await finishAtCallback(agent, await submitLogin(agent, await openPage(agent, await authorize(config)), user));
    // Single sign-on within the limit goes straight through.
    const again = await agent.follow(await authorize(config), redirectUri);
    expect(again.location?.href.startsWith(redirectUri)).toBe(true);
    // The server runs in this process: moving Date moves its clock.
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 301_000 });
    try {
      const later = await agent.follow(await authorize(config), redirectUri);
      expect(formAction(later.html, '/login')).toBeDefined();
    } finally {
      vi.useRealTimers();
    }
  });

  it('asks for a fresh sign-in when the session was idle longer than the client\'s --session-idle-ttl', async () => {
    const strict = await client({ sessionIdleTtl: 120 });
    const agent = new BrowserAgent();
    await finishAtCallback(agent, await submitLogin(agent, await openPage(agent, await authorize(strict)), user));
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 121_000 });
    try {
      const later = await agent.follow(await authorize(strict), redirectUri);
      expect(formAction(later.html, '/login')).toBeDefined();
    } finally {
      vi.useRealTimers();
    }
  });
});
