import * as oidc from 'openid-client';
import { generate } from 'otplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BrowserAgent, formAction, formValue, type PageResponse } from '../helpers/browser-agent.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

const redirectUri = 'http://127.0.0.1:8765/callback';
const password = 'a very long passphrase for mfa tests';
let t: TestServer;
let web: oidc.Configuration;
let strictClient: oidc.Configuration;

async function discover(clientId: string, secret: string) {
  return oidc.discovery(new URL(t.issuer), clientId, {}, oidc.ClientSecretBasic(secret), { execute: [oidc.allowInsecureRequests] });
}

async function authorizationUrl(config: oidc.Configuration, extra: Record<string, string> = {}) {
  const verifier = oidc.randomPKCECodeVerifier();
  const url = oidc.buildAuthorizationUrl(config, { redirect_uri: redirectUri, scope: 'openid', code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', ...extra });
  return { url, verifier };
}

/** Posts the first form on the page whose action contains `fragment`, then follows redirects. */
async function submit(agent: BrowserAgent, page: PageResponse, fragment: string, fields: Record<string, string>) {
  const action = formAction(page.html, fragment);
  if (!action) throw new Error(`no ${fragment} form on ${page.url.href}: ${page.html.slice(0, 400)}`);
  const response = await agent.request(new URL(action, page.url), { form: { csrf: formValue(page.html, 'csrf') ?? '', ...fields } });
  return response.location ? agent.follow(response.location, redirectUri) : response;
}

async function approveConsentIfAsked(agent: BrowserAgent, page: PageResponse) {
  return formAction(page.html, '/confirm') ? submit(agent, page, '/confirm', {}) : page;
}

async function tokensFrom(config: oidc.Configuration, page: PageResponse, verifier: string) {
  expect(page.location?.href.startsWith(redirectUri), page.html.slice(0, 300)).toBe(true);
  return oidc.authorizationCodeGrant(config, page.location!, { pkceCodeVerifier: verifier, idTokenExpected: true }).catch(async () =>
    oidc.authorizationCodeGrant(config, page.location!, { pkceCodeVerifier: verifier }));
}

const codeAt = (secret: string, offsetSteps = 0) => generate({ secret, epoch: Math.floor(Date.now() / 1000) + offsetSteps * 30 });

beforeAll(async () => {
  t = await startTestServer({ captcha: { provider: 'none' }, mfa: { requiredRoles: ['admin'] } });
  const app = await t.container.clients.create({ name: 'App', type: 'web', redirectUris: [redirectUri] }, 'test');
  web = await discover(app.client.clientId, app.secret!);
  const strict = await t.container.clients.create({ name: 'Strict', type: 'web', redirectUris: [redirectUri], requireMfa: true }, 'test');
  strictClient = await discover(strict.client.clientId, strict.secret!);
});
afterAll(() => t?.close());

describe('TOTP second factor', () => {
  let secret: string;
  let recoveryCodes: string[];
  const email = 'admin@example.com';

  it('makes a member of a required role enrol during sign-in, then issues amr and acr for MFA', async () => {
    await t.container.accounts.create({ email, password, verified: true, roles: ['admin'] }, 'test');
    const agent = new BrowserAgent();
    const { url, verifier } = await authorizationUrl(web);
    const login = await agent.follow(url);
    const enrol = await submit(agent, login, '/login', { email, password });
    expect(enrol.status).toBe(200);
    expect(enrol.html).toContain('data:image/png;base64');
    secret = /<code class="secret">([A-Z2-7 ]+)<\/code>/.exec(enrol.html)![1]!.replace(/ /g, '');

    const wrong = await submit(agent, enrol, '/mfa/enrol', { code: '000000' });
    expect(wrong.status).toBe(400);
    secret = /<code class="secret">([A-Z2-7 ]+)<\/code>/.exec(wrong.html)![1]!.replace(/ /g, '');
    const codesPage = await submit(agent, wrong, '/mfa/enrol', { code: await codeAt(secret) });
    recoveryCodes = [...codesPage.html.matchAll(/<li><code>([a-z2-9-]+)<\/code><\/li>/g)].map((m) => m[1]!);
    expect(recoveryCodes).toHaveLength(10);

    const after = await approveConsentIfAsked(agent, await submit(agent, codesPage, '/mfa/done', {}));
    const tokens = await tokensFrom(web, after, verifier);
    expect(tokens.claims()!.amr).toEqual(['pwd', 'otp', 'mfa']);
    expect(tokens.claims()!.acr).toBe('urn:portcullis:acr:mfa');
  });

  it('asks for the code at the next sign-in, refuses a wrong or replayed code, accepts a fresh one', async () => {
    const agent = new BrowserAgent();
    const { url, verifier } = await authorizationUrl(web);
    const challenge = await submit(agent, await agent.follow(url), '/login', { email, password });
    expect(formAction(challenge.html, '/mfa')).toBeDefined();
    expect((await submit(agent, challenge, '/mfa', { method: 'totp', code: '123456' })).status).toBe(400);
    // The code used at enrolment (same 30 s step) must not work again.
    const replay = await submit(agent, challenge, '/mfa', { method: 'totp', code: await codeAt(secret) });
    expect(replay.status).toBe(400);
    const next = await submit(agent, challenge, '/mfa', { method: 'totp', code: await codeAt(secret, 1) });
    const tokens = await tokensFrom(web, await approveConsentIfAsked(agent, next), verifier);
    expect(tokens.claims()!.amr).toEqual(['pwd', 'otp', 'mfa']);
  });

  it('accepts each recovery code once', async () => {
    const use = async () => {
      const agent = new BrowserAgent();
      const { url } = await authorizationUrl(web);
      const challenge = await submit(agent, await agent.follow(url), '/login', { email, password });
      return submit(agent, challenge, '/mfa', { method: 'recovery', code: recoveryCodes[0]!.toUpperCase() });
    };
    const first = await use();
    expect(first.location?.href.startsWith(redirectUri) || formAction(first.html, '/confirm') !== undefined).toBe(true);
    expect((await use()).status).toBe(400);
    expect(await t.container.mfa.remainingRecoveryCodes((await t.container.accounts.show(email)).id)).toBe(9);
  });

  it('cannot skip the second factor with an out-of-order POST', async () => {
    const agent = new BrowserAgent();
    const { url } = await authorizationUrl(web);
    const login = await agent.follow(url);
    const uid = login.url.pathname.split('/').pop()!;
    const csrf = formValue(login.html, 'csrf')!;
    // Nothing pending yet: the MFA, enrolment and consent steps all refuse.
    for (const step of ['mfa', 'mfa/done', 'confirm']) {
      const response = await agent.request(new URL(`/interaction/${uid}/${step}`, t.issuer), { form: { csrf, method: 'totp', code: '000000' } });
      expect(response.status, step).toBeGreaterThanOrEqual(400);
    }
    const challenge = await submit(agent, login, '/login', { email, password });
    expect(formAction(challenge.html, '/mfa')).toBeDefined();
    const empty = await agent.request(new URL(`/interaction/${uid}/mfa`, t.issuer), { form: { csrf } });
    expect(empty.status).toBe(400);
    const skip = await agent.request(new URL(`/interaction/${uid}/confirm`, t.issuer), { form: { csrf } });
    expect(skip.status).toBeGreaterThanOrEqual(400);
    // Resuming the interaction still shows the challenge: no session was created.
    expect(formAction((await agent.request(new URL(`/interaction/${uid}`, t.issuer))).html, '/mfa')).toBeDefined();
  });
});

describe('step-up and per-client policy', () => {
  const email = 'plain@example.com';
  let secret: string;

  it('re-prompts a signed-in person for a second factor when a client asks with acr_values', async () => {
    const account = await t.container.accounts.create({ email, password, verified: true }, 'test');
    const agent = new BrowserAgent();
    const first = await authorizationUrl(web);
    const signedIn = await approveConsentIfAsked(agent, await submit(agent, await agent.follow(first.url), '/login', { email, password }));
    const pwdOnly = await tokensFrom(web, signedIn, first.verifier);
    expect(pwdOnly.claims()!.amr).toEqual(['pwd']);

    const enrolment = await t.container.mfa.startTotp(account.id, email);
    secret = enrolment.secret;
    await t.container.mfa.confirmTotp(account.id, enrolment.factorId, await codeAt(secret), { locale: 'en' });

    const stepUp = await authorizationUrl(web, { acr_values: 'urn:portcullis:acr:mfa' });
    const challenge = await agent.follow(stepUp.url, redirectUri);
    expect(formAction(challenge.html, '/login')).toBeUndefined();
    expect(formAction(challenge.html, '/mfa')).toBeDefined();
    const done = await approveConsentIfAsked(agent, await submit(agent, challenge, '/mfa', { method: 'totp', code: await codeAt(secret, 1) }));
    const tokens = await tokensFrom(web, done, stepUp.verifier);
    expect(tokens.claims()!.acr).toBe('urn:portcullis:acr:mfa');
    expect(tokens.claims()!.amr).toEqual(['pwd', 'otp', 'mfa']);
  });

  it('holds a client that requires MFA to it even with an existing password-only session', async () => {
    await t.container.accounts.create({ email: 'nomfa@example.com', password, verified: true }, 'test');
    const agent = new BrowserAgent();
    const first = await authorizationUrl(web);
    await approveConsentIfAsked(agent, await submit(agent, await agent.follow(first.url), '/login', { email: 'nomfa@example.com', password }));
    const strict = await authorizationUrl(strictClient);
    const page = await agent.follow(strict.url, redirectUri);
    expect(page.location?.href.startsWith(redirectUri) ?? false).toBe(false);
    expect(page.html).toContain('data:image/png;base64');
  });
});
