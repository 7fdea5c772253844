/**
 * Two full Portcullis instances sharing one PostgreSQL database, one Redis prefix and the same
 * keys, behind a tiny in-test proxy that owns the public issuer URL — the shape of a deployment
 * behind a load balancer. The test chooses which instance the proxy sends each step to, and
 * checks that state created through one is honoured (or revoked) at the other.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BrowserAgent, type PageResponse } from '../helpers/browser-agent.js';
import {
  alertText, authorizationRequest, createAccount, finishAtCallback, openPage, redirectUri, strongPassword, submitLogin,
} from '../helpers/accounts-fixtures.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

type Instance = 'a' | 'b';

/** Forwards every request, unchanged (Host included), to the instance chosen at the moment. */
async function startSwitchingProxy(ports: () => Record<Instance, number>) {
  let target: Instance = 'a';
  const served: Record<Instance, number> = { a: 0, b: 0 };
  const server = http.createServer((req, res) => {
    served[target] += 1;
    const upstream = http.request({ host: '127.0.0.1', port: ports()[target], method: req.method, path: req.url, headers: req.headers, agent: false }, (response) => {
      res.writeHead(response.statusCode!, response.headers);
      response.pipe(res);
    });
    upstream.on('error', () => { res.writeHead(502).end(); });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    issuer: `http://localhost:${(server.address() as AddressInfo).port}`,
    /** Sends everything `step` does to `instance`, and checks the other one saw none of it. */
    async via<T>(instance: Instance, step: () => Promise<T>): Promise<T> {
      target = instance;
      served.a = 0;
      served.b = 0;
      const result = await step();
      expect(served[instance], `requests served by ${instance}`).toBeGreaterThan(0);
      expect(served[instance === 'a' ? 'b' : 'a'], 'requests served by the other instance').toBe(0);
      return result;
    },
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

let a: TestServer;
let b: TestServer;
let proxy: Awaited<ReturnType<typeof startSwitchingProxy>>;
let config: oidc.Configuration;
const lockedHeading = 'Sign-in temporarily blocked';

beforeAll(async () => {
  proxy = await startSwitchingProxy(() => ({ a: Number(new URL(a.issuer).port), b: Number(new URL(b.issuer).port) }));
  const overrides = {
    issuer: proxy.issuer,
    captcha: { provider: 'none' },
    lockout: { threshold: 3 },
    rateLimits: { loginPerIp: { points: 1000, durationSeconds: 600 }, loginPerAccount: { points: 5, durationSeconds: 600 } },
  };
  a = await startTestServer(overrides);
  b = await startTestServer(overrides, { shareWith: a });
  const { client, secret } = await a.container.clients.create({ name: 'Two instances app', type: 'web', redirectUris: [redirectUri] }, 'test');
  config = await proxy.via('a', () => oidc.discovery(new URL(proxy.issuer), client.clientId, {}, oidc.ClientSecretBasic(secret!), { execute: [oidc.allowInsecureRequests] }));
});

afterAll(async () => {
  await b?.close();
  await a?.close();
  await proxy?.close();
});

it('shares one database, Redis prefix and key set', () => {
  expect(b.databaseUrl).toBe(a.databaseUrl);
  expect(b.env).toEqual(a.env);
  expect(b.container.config.issuer).toBe(a.container.config.issuer);
});

describe('sessions', () => {
  it('honours at B a session signed in at A: B authorizes without a new login, and redeems the code', async () => {
    const user = await createAccount(a);
    const agent = new BrowserAgent();
    const first = await authorizationRequest(config, { scope: 'openid email offline_access', prompt: 'consent' });
    const tokensAtA = await proxy.via('a', async () => first.redeem(await finishAtCallback(agent, await submitLogin(agent, await openPage(agent, first.url), user))));
    const subject = tokensAtA.claims()!.sub;

    const second = await authorizationRequest(config, { prompt: 'none' });
    const tokensAtB = await proxy.via('b', async () => {
      const page = await agent.follow(second.url, redirectUri);
      expect(page.location?.href.startsWith(redirectUri), 'B answered the callback without a login page').toBe(true);
      expect(page.location!.searchParams.get('error')).toBeNull();
      return second.redeem(page.location!);
    });
    expect(tokensAtB.claims()!.sub).toBe(subject);
  });
});

describe('tokens', () => {
  async function tokensFromA() {
    const user = await createAccount(a);
    const agent = new BrowserAgent();
    const request = await authorizationRequest(config, { scope: 'openid email offline_access', prompt: 'consent' });
    return proxy.via('a', async () => request.redeem(await finishAtCallback(agent, await submitLogin(agent, await openPage(agent, request.url), user))));
  }

  it('makes an access token revoked at A inactive at B\'s introspection', async () => {
    const tokens = await tokensFromA();
    expect((await proxy.via('b', () => oidc.tokenIntrospection(config, tokens.access_token))).active).toBe(true);
    await proxy.via('a', () => oidc.tokenRevocation(config, tokens.access_token));
    expect((await proxy.via('b', () => oidc.tokenIntrospection(config, tokens.access_token))).active).toBe(false);
  });

  it('refuses at B a refresh token revoked at A', async () => {
    const tokens = await tokensFromA();
    // B rotates A's refresh token; A revokes the one B issued; B then refuses it.
    const rotated = await proxy.via('b', () => oidc.refreshTokenGrant(config, tokens.refresh_token!));
    await proxy.via('a', () => oidc.tokenRevocation(config, rotated.refresh_token!));
    const failure = await proxy.via('b', () => oidc.refreshTokenGrant(config, rotated.refresh_token!).then(() => undefined, (error: unknown) => error as { error?: string }));
    expect(failure?.error).toBe('invalid_grant');
  });
});

describe('sign-in limits', () => {
  /** A fresh login page (the account pages' own sign-in) from one instance, posted to another. */
  async function attempt(load: 'a' | 'b', post: 'a' | 'b', credentials: { email: string; password: string }): Promise<PageResponse> {
    const agent = new BrowserAgent();
    const page = await proxy.via(load, () => openPage(agent, new URL('/account', proxy.issuer)));
    return proxy.via(post, () => submitLogin(agent, page, credentials));
  }

  it('locks an account after failures counted across both instances (threshold 3)', async () => {
    const user = await createAccount(a);
    const wrong = { email: user.email, password: strongPassword() };
    expect((await attempt('a', 'a', wrong)).status).toBe(400);
    expect((await attempt('b', 'b', wrong)).status).toBe(400);
    const locked = await attempt('b', 'a', wrong);
    expect(locked.status).toBe(429);
    expect(locked.html).toContain(lockedHeading);
    // The lock holds at the other instance, for the right password too.
    const right = await attempt('a', 'b', user);
    expect(right.status).toBe(429);
    expect(right.html).toContain(lockedHeading);
  });

  it('counts the per-account rate limit across both instances (5 attempts in 10 minutes)', async () => {
    const user = await createAccount(a);
    const answers: number[] = [];
    for (const instance of ['a', 'b', 'a', 'b', 'a'] as const) answers.push((await attempt(instance, instance, user)).status);
    expect(answers, 'each instance alone saw at most 3 attempts').toEqual([303, 303, 303, 303, 303]);
    const limited = await attempt('b', 'b', user);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(alertText(limited.html)).toBe('Too many attempts. Wait a while and try again.');
  });
});
