import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { routerOf, routerEntries } from '../../src/http/route-table.js';
import { createConsoleAdmin, signInConsoleAdmin } from '../helpers/admin-console-session.js';
import { BrowserAgent, type PageResponse } from '../helpers/browser-agent.js';
import {
  authorizationRequest, createAccount, createRelyingParty, linkIn, mailTo, openPage, redirectUri, signInForTokens,
  signInToAccount, startAccountsServer, submitForm, totpCode, totpKeyOn, type AccountsServer,
} from '../helpers/accounts-fixtures.js';

/**
 * ASVS 5.0 rows 6.2.6, 6.2.7, 7.4.2 and 7.4.4, proved against the running server: password fields
 * are masked and open to password managers and paste; disabling or deleting an account ends its
 * sessions and tokens; every signed-in account page offers sign-out.
 */

let s: AccountsServer;

beforeAll(async () => {
  // Personal API keys on, so their page is among the signed-in pages checked for sign-out.
  s = await startAccountsServer({ apiKeys: { personal: true } });
});
afterAll(() => s?.close());

const at = (p: string) => new URL(p, s.t.issuer);
const signOutLink = 'href="/session/end?client_id=portcullis-account"';

/** Every `<input …>` tag of the page whose name or type speaks of a password. */
function passwordInputs(html: string): string[] {
  return [...html.matchAll(/<input\b[^>]*>/g)].map((m) => m[0].replace(/\s+/g, ' '))
    .filter((tag) => /type="password"/.test(tag) || /name="(password|current|new[-_]?password)[^"]*"/i.test(tag));
}

const attr = (tag: string, name: string) => new RegExp(`\\b${name}="([^"]*)"`).exec(tag)?.[1];

/** The page's password inputs as `name: autocomplete`, after checking each is masked and nothing blocks paste. */
function passwordFields(page: PageResponse): Record<string, string | undefined> {
  expect(page.status, `${page.url.pathname}: ${page.html.slice(0, 300)}`).toBe(200);
  const tags = passwordInputs(page.html);
  for (const tag of tags) expect(attr(tag, 'type'), tag).toBe('password');
  // Nothing on the page stops paste, copy or autofill.
  expect(page.html).not.toMatch(/\bon(paste|copy|cut|drop)=/i);
  expect(page.html).not.toMatch(/autocomplete="off"/i);
  return Object.fromEntries(tags.map((tag) => [attr(tag, 'name')!, attr(tag, 'autocomplete')]));
}

/** A refresh-token grant's error code, or undefined when it succeeded. */
const refreshError = (config: oidc.Configuration, token: string) =>
  oidc.refreshTokenGrant(config, token).then(() => undefined, (error: unknown) => (error as { error?: string }).error);

describe('ASVS 6.2.6 / 6.2.7: password fields', () => {
  it('masks every password field and lets password managers and paste in (current-password to sign in, new-password to set one)', async () => {
    // First run: no admin yet, so the setup page is live.
    const setup = passwordFields(await new BrowserAgent().request(s.t.container.setup.link(s.t.issuer)));
    expect(setup).toEqual({ password: 'new-password' });

    const user = await createAccount(s.t);
    const { config } = await createRelyingParty(s.t);
    const visitor = new BrowserAgent();
    const login = await openPage(visitor, (await authorizationRequest(config)).url);
    expect(login.url.pathname).toMatch(/^\/interaction\//);
    expect(passwordFields(login)).toEqual({ password: 'current-password' });
    const register = await visitor.request(new URL(`${login.url.pathname}/register`, login.url));
    expect(passwordFields(register)).toEqual({ password: 'new-password' });

    const forgot = await visitor.request(at('/forgot-password'));
    expect((await submitForm(visitor, forgot, '/forgot-password', { email: user.email })).status).toBe(200);
    const link = linkIn(s.mail, await mailTo(s.mail, user.email, /Reset your .* password/), '/reset-password');
    expect(passwordFields(await new BrowserAgent().request(link))).toEqual({ password: 'new-password' });

    const agent = new BrowserAgent();
    const change = await signInToAccount(agent, s.t.issuer, user, '/account/password');
    expect(change.url.pathname).toBe('/account/password');
    expect(passwordFields(change)).toEqual({ current: 'current-password', password: 'new-password' });
    expect(passwordFields(await agent.request(at('/account/email')))).toEqual({ password: 'current-password' });
  });

  it('ships no script or policy that blocks paste into a password field', async () => {
    const dir = path.resolve('views/static');
    const scripts = (await readdir(dir)).filter((name) => name.endsWith('.js'));
    expect(scripts.length).toBeGreaterThan(0);
    for (const name of scripts) {
      const source = await readFile(path.join(dir, name), 'utf8');
      expect(source, name).not.toMatch(/addEventListener\(\s*['"](paste|copy|cut|drop)['"]/);
      expect(source, name).not.toMatch(/\.on(paste|copy|cut|drop)\s*=/);
    }
    // The sign-in page's scripts come only from this origin, so nothing else can add a paste blocker.
    const { config } = await createRelyingParty(s.t);
    const login = await openPage(new BrowserAgent(), (await authorizationRequest(config)).url);
    const scriptSources = [...login.html.matchAll(/<script\b[^>]*src="([^"]+)"/g)]
      .map((m) => new URL(m[1]!, login.url));
    for (const src of scriptSources) expect(src.origin).toBe(new URL(s.t.issuer).origin);
    expect(login.headers.get('content-security-policy')).toMatch(/script-src [^;]*'self'|default-src [^;]*'self'/);
  });
});

/** Signs a person in to /account and to a relying party, runs the admin `action`, and checks both ended. */
async function expectSessionsEndOn(action: 'disable' | 'delete') {
  const user = await createAccount(s.t);
  const browser = new BrowserAgent();
  expect((await signInToAccount(browser, s.t.issuer, user)).status).toBe(200);
  expect((await browser.request(at('/account'))).status).toBe(200);
  const { config } = await createRelyingParty(s.t);
  const tokens = await signInForTokens(new BrowserAgent(), config, user,
    { scope: 'openid offline_access', prompt: 'consent' });
  expect(tokens.refresh_token).toBeDefined();

  await s.t.container.accountAdmin[action](user.id, 'test');

  const after = await browser.request(at('/account'));
  expect(after.status).toBe(302);
  expect(after.location!.pathname).toBe('/auth');
  expect(await refreshError(config, tokens.refresh_token!)).toBe('invalid_grant');
  const introspected = await oidc.tokenIntrospection(config, tokens.access_token);
  expect(introspected.active).toBe(false);
}

describe('ASVS 7.4.2: disabling or deleting an account', () => {
  it('disabling an account ends its account-page session and refuses its refresh tokens', () =>
    expectSessionsEndOn('disable'));

  it('deleting an account ends its account-page session and refuses its refresh tokens', () =>
    expectSessionsEndOn('delete'));
});

describe('ASVS 7.4.4: sign-out on every signed-in page', () => {
  it('shows the sign-out link on every page under /account a signed-in person can open', async () => {
    const routes = s.t.server.app.middleware.map((m) => routerOf(m)).filter((r) => r !== undefined)
      .flatMap((router) => routerEntries(router))
      .filter((route) => route.method === 'GET' && route.path.startsWith('/account'))
      .map((route) => route.path.replace(/(.)\/$/, '$1'));
    // Not signed-in pages: /account/callback ends the sign-in redirect; /account/email/confirm is the emailed
    // link, which works without a session (the token is the proof), like the reset link.
    const notSignedIn = ['/account/callback', '/account/email/confirm'];
    expect(routes).toEqual(expect.arrayContaining(notSignedIn));
    const pages = routes.filter((p) => !notSignedIn.includes(p));
    expect(pages.sort()).toEqual([
      '/account', '/account/api-keys', '/account/email', '/account/password', '/account/security',
      '/account/security/codes', '/account/sessions',
    ]);

    const user = await createAccount(s.t);
    const agent = new BrowserAgent();
    const security = await signInToAccount(agent, s.t.issuer, user, '/account/security');
    // The pages that answer a form on the way: enrolling an email code (its confirm page) and an
    // authenticator app (the QR page, then the one-time recovery codes page).
    const emailCode = await submitForm(agent, security, '/account/security/email', {});
    const enrol = await submitForm(agent, security, '/account/security/totp', {});
    expect(enrol.status).toBe(200);
    const seen: Array<[string, PageResponse]> = [
      ['POST /account/security/email', emailCode], ['POST /account/security/totp', enrol],
    ];
    const code = await totpCode(totpKeyOn(enrol.html));
    const confirmed = await submitForm(agent, enrol, '/account/security/totp/confirm', { code });
    expect(confirmed.location?.pathname).toBe('/account/security/codes');
    for (const p of pages) {
      const page = await agent.request(at(p));
      seen.push([`GET ${p}`, page]);
    }
    for (const [route, page] of seen) {
      expect(page.status, route).toBe(200);
      expect(page.headers.get('content-type'), route).toMatch(/^text\/html/);
      expect(page.html, route).toContain(signOutLink);
    }
    expect(seen.map(([route]) => route)).toContain('GET /account/security/codes');
    // The link works: it leads to the provider's end-session page.
    const end = await agent.request(at('/session/end?client_id=portcullis-account'));
    expect(end.status).toBe(200);
  });

  it('shows the sign-out link on every page of the admin console', async () => {
    // Runs after the password-field test: an admin makes the first-run setup link dead.
    const admin = await createConsoleAdmin(s.t);
    const { client } = await s.t.container.clients.create(
      { name: 'Console app', type: 'web', redirectUris: [redirectUri] }, 'test');
    const role = `role${Date.now()}`;
    await s.t.container.rbac.create(role, undefined, 'test');
    const identifier = `https://api.${role}.example.test`;
    await s.t.container.apis.create({ identifier, name: 'Orders', scopes: ['orders:read'] }, 'test');
    const { key } = await s.t.container.apiKeys.create(
      { owner: { type: 'account', accountId: admin.id }, name: 'k' }, 'test');
    const filled: Record<string, string> = {
      ':accountId': admin.id, ':clientId': client.clientId, ':name': role, ':id': key.id,
    };
    const query: Record<string, string> = { '/admin/apis/show': identifier, '/admin/apis/delete': identifier };

    const pages = s.t.server.app.middleware.map((m) => routerOf(m)).filter((r) => r !== undefined)
      .flatMap((router) => routerEntries(router))
      // The JSON admin API under /admin/api is for scripts with a bearer key, not pages.
      .filter((route) => route.method === 'GET' && /^\/admin(\/|$)/.test(route.path))
      .filter((route) => !route.path.startsWith('/admin/api/'))
      .map((route) => route.path.replace(/(.)\/$/, '$1'));
    expect(pages).toEqual(expect.arrayContaining([
      '/admin', '/admin/accounts', '/admin/accounts/:accountId', '/admin/clients/:clientId',
      '/admin/roles/:name/delete',
      '/admin/api-keys/:id', '/admin/apis/show', '/admin/audit', '/admin/keys',
    ]));
    const { agent } = await signInConsoleAdmin(s.t, admin);
    for (const route of pages) {
      const url = at(route.replace(/:\w+/g, (param) => filled[param] ?? param));
      if (query[route]) url.searchParams.set('identifier', query[route]);
      expect(url.pathname, route).not.toContain(':');
      const page = await agent.request(url);
      expect(page.status, `${route}: ${page.html.slice(0, 200)}`).toBe(200);
      expect(page.headers.get('content-type'), route).toMatch(/^text\/html/);
      expect(page.html, route).toContain(signOutLink);
    }
  });
});
