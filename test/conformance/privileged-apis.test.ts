import { decodeJwt } from 'jose';
import * as oidc from 'openid-client';
import { generate } from 'otplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BrowserAgent, type PageResponse } from '../helpers/browser-agent.js';
import {
  finishAtCallback, openPage, redirectUri, strongPassword, submitForm, submitLogin, uniqueEmail,
} from '../helpers/accounts-fixtures.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

/** A registered API an admin marks privileged: the admin API's rules apply to it too. */
const payroll = 'https://payroll.example.test';
const mfaAcr = 'urn:portcullis:acr:mfa';

let t: TestServer;
let adminApi: string;
let ordinary: { clientId: string; config: oidc.Configuration };
let allowed: { clientId: string; config: oidc.Configuration };

type Person = { id: string; email: string; password: string; secret?: string };
type OAuthFailure = { error?: string; error_description?: string };

const discover = (clientId: string, secret: string) =>
  oidc.discovery(
    new URL(t.issuer), clientId, {}, oidc.ClientSecretBasic(secret), { execute: [oidc.allowInsecureRequests] });

async function webClient(name: string, allowAdminApi: boolean) {
  const { client, secret } = await t.container.clients.create(
    { name, type: 'web', redirectUris: [redirectUri], allowAdminApi }, 'test');
  return { clientId: client.clientId, config: await discover(client.clientId, secret!) };
}

async function serviceClient(name: string, allowAdminApi: boolean, roles: string[] = ['admin']) {
  const { client, secret } = await t.container.clients.create({ name, type: 'service', allowAdminApi }, 'test');
  for (const role of roles) await t.container.rbac.assign(role, { client: client.clientId }, 'test');
  return { clientId: client.clientId, config: await discover(client.clientId, secret!) };
}

/** An account holding the admin role and payroll's `payroll` role; with `mfa`, an authenticator app too. */
async function admin(mfa: boolean): Promise<Person> {
  const email = uniqueEmail('admin');
  const password = strongPassword();
  const account = await t.container.accounts.create(
    { email, password, verified: true, roles: ['admin', 'payroll'] }, 'test');
  if (!mfa) return { id: account.id, email, password };
  const enrolment = await t.container.mfa.startTotp(account.id, email);
  await t.container.mfa.confirmTotp(
    account.id, enrolment.factorId, await generate({ secret: enrolment.secret }), { locale: 'en' });
  return { id: account.id, email, password, secret: enrolment.secret };
}

/** An authorization request for `resources` (RFC 8707 allows several) with PKCE, state and nonce. */
async function authorization(
  config: oidc.Configuration, scope: string, resources: string[], extra: Record<string, string> = {},
) {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const params = new URLSearchParams({
    redirect_uri: redirectUri, scope, state, nonce, prompt: 'consent',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', ...extra,
  });
  for (const resource of resources) params.append('resource', resource);
  return {
    url: oidc.buildAuthorizationUrl(config, params),
    redeem: (callback: URL, parameters: Record<string, string> = {}) =>
      oidc.authorizationCodeGrant(
        config, callback, { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce }, parameters),
  };
}

/** Signs in (password, then the authenticator code when the account has one) and returns the callback URL. */
async function signIn(page: PageResponse, agent: BrowserAgent, person: Person): Promise<URL> {
  const posted = await submitLogin(agent, page, person);
  if (!person.secret) return finishAtCallback(agent, posted);
  expect(posted.html, posted.html.slice(0, 300)).toContain('authenticator app');
  // The enrolment spent the current step; a code is accepted one step either side (RFC 6238 §5.2).
  const code = await generate({ secret: person.secret, epoch: Math.floor(Date.now() / 1000) + 30 });
  return finishAtCallback(agent, await submitForm(agent, posted, '/mfa', { code }));
}

const failureOf = (promise: Promise<unknown>) =>
  promise.then(() => undefined, (error: unknown) => error as OAuthFailure);

async function expectRefused(promise: Promise<unknown>, description: RegExp) {
  const failure = await failureOf(promise);
  expect(failure, 'expected an OAuth error').toBeDefined();
  expect(failure).toMatchObject({ error: 'invalid_target', error_description: expect.stringMatching(description) });
}

const notAllowed = (api: string, clientId: string) =>
  new RegExp(
    `^${api.replace(/[.]/g, '\\.')} is a privileged API: client ${clientId} is not allowed to obtain tokens for it`);

const callAdminApi = (token: string) => fetch(new URL('/admin/api/v1/clients', t.issuer), {
  headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
})
  .then(async (response) => ({ status: response.status, body: await response.json() as OAuthFailure }));

beforeAll(async () => {
  t = await startTestServer({ captcha: { provider: 'none' }, mfa: { requiredRoles: [] } });
  adminApi = `${t.issuer}/admin/api`;
  await t.container.rbac.create('admin', 'administrators', 'test');
  await t.container.rbac.create('payroll', 'payroll clerks', 'test');
  await t.container.apis.create(
    { identifier: payroll, name: 'Payroll', scopes: ['payroll:read'], rbac: true, privileged: true }, 'test');
  await t.container.rbac.grant('payroll', payroll, 'payroll:read', 'test');
  ordinary = await webClient('Third-party app', false);
  allowed = await webClient('Ops dashboard', true);
});
afterAll(() => t?.close());

describe('an admin with only a password at an ordinary client', () => {
  for (const [name, resource, scope] of [
    ['the admin API', () => adminApi, 'admin:read'],
    ['a privileged registered API', () => payroll, 'payroll:read'],
  ] as const) {
    it(`is refused ${name} at the authorization endpoint (code flow)`, async () => {
      const request = await authorization(ordinary.config, `openid ${scope}`, [resource()]);
      const answer = await new BrowserAgent().follow(request.url, redirectUri);
      expect(answer.location?.href.startsWith(redirectUri), answer.html.slice(0, 300)).toBe(true);
      expect(answer.location!.searchParams.get('error')).toBe('invalid_target');
      expect(answer.location!.searchParams.get('error_description')).toMatch(notAllowed(resource(), ordinary.clientId));
    });
  }

  it('is refused the admin API when pushing the authorization request (PAR)', async () => {
    const params = {
      redirect_uri: redirectUri, scope: 'openid admin:read', resource: adminApi, code_challenge_method: 'S256',
      code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()) };
    await expectRefused(
      oidc.buildAuthorizationUrlWithPAR(ordinary.config, params), notAllowed(adminApi, ordinary.clientId));
  });

  it('gets no admin scopes by refreshing a token towards the admin API', async () => {
    const person = await admin(false);
    const agent = new BrowserAgent();
    const request = await authorization(ordinary.config, 'openid offline_access', []);
    const tokens = await request.redeem(await signIn(await openPage(agent, request.url), agent, person));
    expect(tokens.refresh_token).toBeDefined();
    // The grant never held the admin API: oidc-provider refuses its scope, and the resource itself.
    const scoped = await failureOf(
      oidc.refreshTokenGrant(ordinary.config, tokens.refresh_token!, { resource: adminApi, scope: 'admin:read' }));
    expect(scoped)
      .toMatchObject({ error: 'invalid_scope', error_description: 'refresh token missing requested scope' });
    const bare = await failureOf(
      oidc.refreshTokenGrant(ordinary.config, tokens.refresh_token!, { resource: adminApi }));
    expect(bare)
      .toMatchObject({ error: 'invalid_target', error_description: 'resource indicator is missing, or unknown' });
  });

  it('is refused by the device flow before anyone signs in', async () => {
    const { client } = await t.container.clients.create(
      { name: 'TV app', type: 'native', redirectUris: [redirectUri], deviceFlow: true }, 'test');
    const config = await oidc.discovery(
      new URL(t.issuer), client.clientId, { token_endpoint_auth_method: 'none' }, oidc.None(),
      { execute: [oidc.allowInsecureRequests] },
    );
    await expectRefused(
      oidc.initiateDeviceAuthorization(config, { scope: 'openid admin:read', resource: adminApi }),
      notAllowed(adminApi, client.clientId),
    );
  });

  it('is refused the admin API and a privileged API with client credentials, even holding the admin role', async () => {
    const bot = await serviceClient('Unlisted bot', false, ['admin', 'payroll']);
    await expectRefused(
      oidc.clientCredentialsGrant(bot.config, { resource: adminApi, scope: 'admin:read' }),
      notAllowed(adminApi, bot.clientId),
    );
    await expectRefused(
      oidc.clientCredentialsGrant(bot.config, { resource: payroll, scope: 'payroll:read' }),
      notAllowed(payroll, bot.clientId),
    );
  });
});

describe('an admin at an allowed client', () => {
  it('without a second factor is asked to set one up before any code for the admin API or a privileged API',
    async () => {
    const person = await admin(false);
    for (const [resource, scope] of [[adminApi, 'admin:read'], [payroll, 'payroll:read']] as const) {
      const agent = new BrowserAgent();
      const request = await authorization(allowed.config, `openid ${scope}`, [resource]);
      const posted = await submitLogin(agent, await openPage(agent, request.url), person);
      expect(posted.status).toBe(200);
      expect(posted.html).toContain('Set up two-step sign-in');
      expect(posted.location).toBeUndefined();
    }
  });

  it('without a second factor is asked to set one up in the device flow, and polling gets no token', async () => {
    const { client } = await t.container.clients.create(
      { name: 'Ops TV', type: 'native', redirectUris: [redirectUri], deviceFlow: true, allowAdminApi: true }, 'test');
    const config = await oidc.discovery(
      new URL(t.issuer), client.clientId, { token_endpoint_auth_method: 'none' }, oidc.None(),
      { execute: [oidc.allowInsecureRequests] },
    );
    const device = await oidc.initiateDeviceAuthorization(config, { scope: 'openid admin:read', resource: adminApi });
    const agent = new BrowserAgent();
    const input = await agent.request(device.verification_uri);
    const confirm = await submitForm(agent, input, '/device', { user_code: device.user_code });
    const login = await agent.follow((await submitForm(agent, confirm, '/device', {})).location!);
    const posted = await submitLogin(agent, login, await admin(false));
    expect(posted.status, posted.html.slice(0, 300)).toBe(200);
    expect(posted.html).toContain('Set up two-step sign-in');
    // One poll by hand: the device is still waiting for the person, no token is issued.
    const poll = await fetch(new URL('/token', t.issuer), { method: 'POST', body: new URLSearchParams({
      grant_type: 'urn:ietf:params:oauth:grant-type:device_code',
      device_code: device.device_code, client_id: client.clientId,
    }) });
    expect(await poll.json()).toMatchObject({ error: 'authorization_pending' });
  }, 20_000);

  it('with a second factor gets tokens carrying acr and amr, which the admin API accepts, and refreshes to a privileged API', async () => {
    const person = await admin(true);
    const agent = new BrowserAgent();
    const request = await authorization(
      allowed.config, 'openid offline_access admin:read payroll:read', [adminApi, payroll]);
    const tokens = await request.redeem(
      await signIn(await openPage(agent, request.url), agent, person), { resource: adminApi });
    const claims = decodeJwt(tokens.access_token);
    expect(claims).toMatchObject({
      aud: adminApi, sub: person.id, client_id: allowed.clientId, acr: mfaAcr, scope: 'admin:read',
    });
    expect(claims.amr).toEqual(expect.arrayContaining(['pwd', 'otp']));
    expect(await callAdminApi(tokens.access_token)).toMatchObject({ status: 200 });

    const refreshed = await oidc.refreshTokenGrant(allowed.config, tokens.refresh_token!, { resource: payroll });
    expect(decodeJwt(refreshed.access_token)).toMatchObject({
      aud: payroll, acr: mfaAcr, scope: 'payroll:read', permissions: ['payroll:read'],
    });
  });

  it('loses the admin API at the next call and the next refresh once the client is no longer allowed', async () => {
    const { client, secret } = await t.container.clients.create(
      { name: 'Soon unlisted', type: 'web', redirectUris: [redirectUri], allowAdminApi: true }, 'test');
    const config = await discover(client.clientId, secret!);
    const person = await admin(true);
    const agent = new BrowserAgent();
    const request = await authorization(config, 'openid offline_access admin:read', [adminApi]);
    const tokens = await request.redeem(await signIn(await openPage(agent, request.url), agent, person));
    expect((await callAdminApi(tokens.access_token)).status).toBe(200);

    await t.container.clients.update(client.clientId, { allowAdminApi: false }, 'test');
    const answer = await callAdminApi(tokens.access_token);
    expect(answer).toMatchObject({
      status: 401,
      body: { error: 'invalid_token', error_description: expect.stringMatching(notAllowed(adminApi, client.clientId)) },
    });
    await expectRefused(oidc.refreshTokenGrant(config, tokens.refresh_token!), notAllowed(adminApi, client.clientId));
    const [audited] = await t.container.dataSource.query(
      "select details from audit_events where type = 'client.updated' and client_id = $1", [client.clientId]);
    expect(audited.details).toEqual({ before: { allowAdminApi: true }, after: { allowAdminApi: false } });
  });
});

describe('a service client allowed privileged APIs', () => {
  it('gets client-credentials tokens for the admin API and a privileged API (it is its own subject)', async () => {
    const bot = await serviceClient('Listed bot', true, ['admin', 'payroll']);
    const token = (await oidc.clientCredentialsGrant(bot.config, { resource: adminApi, scope: 'admin:read' }))
      .access_token;
    expect(await callAdminApi(token)).toMatchObject({ status: 200 });
    const pay = await oidc.clientCredentialsGrant(bot.config, { resource: payroll, scope: 'payroll:read' });
    expect(decodeJwt(pay.access_token)).toMatchObject({ aud: payroll, sub: bot.clientId, scope: 'payroll:read' });
  });

  it('is refused by the admin API once its allowance is withdrawn, with a token minted before', async () => {
    const bot = await serviceClient('Withdrawn bot', true);
    const token = (await oidc.clientCredentialsGrant(bot.config, { resource: adminApi, scope: 'admin:read' }))
      .access_token;
    await t.container.clients.update(bot.clientId, { allowAdminApi: false }, 'test');
    expect(await callAdminApi(token)).toMatchObject({
      status: 401,
      body: { error: 'invalid_token', error_description: expect.stringMatching(notAllowed(adminApi, bot.clientId)) },
    });
  });
});

describe('the admin REST API', () => {
  it('sets and shows allowAdminApi on clients and privileged on APIs', async () => {
    const bot = await serviceClient('Admin writer', true);
    const token = (await oidc.clientCredentialsGrant(
      bot.config, { resource: adminApi, scope: 'admin:read admin:write' })).access_token;
    const call = async (method: string, path: string, body?: unknown) => {
      const response = await fetch(new URL(`/admin/api/v1${path}`, t.issuer), {
        method, body: body === undefined ? undefined : JSON.stringify(body),
        headers: {
          authorization: `Bearer ${token}`, accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
      });
      return { status: response.status, body: await response.json() as Record<string, unknown> };
    };
    const created = await call('POST', '/clients', { name: 'Via API', type: 'service', allowAdminApi: true });
    expect(created).toMatchObject({ status: 201, body: { client: { allowAdminApi: true } } });
    const api = await call(
      'POST', '/apis', { identifier: 'https://ledger.example.test', name: 'Ledger', privileged: true });
    expect(api).toMatchObject({ status: 201, body: { identifier: 'https://ledger.example.test', privileged: true } });
    const builtin = await call('GET', `/apis/${encodeURIComponent(adminApi)}`);
    expect(builtin).toMatchObject({ status: 200, body: { source: 'builtin', privileged: true } });
  });
});

describe('privileged as a property of a registered API', () => {
  it('applies to an API once it is marked privileged, and not before', async () => {
    const reports = 'https://reports.example.test';
    await t.container.apis.create({ identifier: reports, name: 'Reports', scopes: ['reports:read'] }, 'test');
    const bot = await serviceClient('Reporter', false, []);
    expect((await oidc.clientCredentialsGrant(bot.config, { resource: reports, scope: 'reports:read' })).access_token)
      .toBeTruthy();
    await t.container.apis.update(reports, { privileged: true }, 'test');
    await expectRefused(
      oidc.clientCredentialsGrant(bot.config, { resource: reports, scope: 'reports:read' }),
      notAllowed(reports, bot.clientId),
    );
    expect((await t.container.apis.show(reports)).privileged).toBe(true);
  });

  it('is always true of the built-in admin API, which cannot be changed', async () => {
    expect((await t.container.apis.show(adminApi)).privileged).toBe(true);
    await expect(t.container.apis.update(adminApi, { privileged: false }, 'test'))
      .rejects.toMatchObject({ code: 'api_read_only' });
  });
});
