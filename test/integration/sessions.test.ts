import * as oidc from 'openid-client';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { describeUserAgent } from '../../src/sessions/user-agent.js';
import {
  auditEvents, authorizationRequest, createAccount, createRelyingParty, finishAtCallback, openPage, redirectUri, signInForTokens,
  signInToAccount, submitForm, submitLogin,
} from '../helpers/accounts-fixtures.js';
import { BrowserAgent, formAction, type PageResponse } from '../helpers/browser-agent.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';
import { cliRunner } from '../helpers/cli-runner.js';

const firefox = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0';
const safari = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1';

/** A browser that sends a User-Agent header, as real ones do. */
class DeviceAgent extends BrowserAgent {
  constructor(private readonly userAgent: string) { super(); }
  override request(input: string | URL, init: { method?: string; form?: Record<string, string>; headers?: Record<string, string> } = {}): Promise<PageResponse> {
    return super.request(input, { ...init, headers: { 'user-agent': this.userAgent, ...init.headers } });
  }
}

let t: TestServer;
// The clock session lifetimes are measured on: tests move it instead of sleeping.
let offsetMs = 0;
const minutes = (n: number) => n * 60_000;
const days = (n: number) => n * 86_400_000;

beforeAll(async () => {
  t = await startTestServer({ captcha: { provider: 'none' } }, { now: () => new Date(Date.now() + offsetMs) });
});
afterAll(() => t?.close());
beforeEach(() => { offsetMs = 0; });

const offline = { scope: 'openid offline_access', prompt: 'consent' };

const { cli } = cliRunner(() => t.env);

/** A new authorization request in this browser: 'sso' when it goes straight back to the app, 'login' when the login page shows. */
async function authorize(agent: BrowserAgent, config: oidc.Configuration): Promise<'sso' | 'login'> {
  const request = await authorizationRequest(config);
  const page = await openPage(agent, request.url);
  if (page.location?.href.startsWith(redirectUri)) return 'sso';
  expect(formAction(page.html, '/login'), page.html.slice(0, 300)).toBeDefined();
  return 'login';
}

describe('user agent descriptions', () => {
  it('names the major browsers and systems', () => {
    expect(describeUserAgent(firefox)).toEqual({ browser: 'Firefox 128', os: 'Windows' });
    expect(describeUserAgent(safari)).toEqual({ browser: 'Safari 17', os: 'iOS' });
    expect(describeUserAgent('Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0'))
      .toEqual({ browser: 'Edge 126', os: 'macOS' });
    expect(describeUserAgent('Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36'))
      .toEqual({ browser: 'Chrome 126', os: 'Android' });
    expect(describeUserAgent('curl/8.5.0')).toEqual({ browser: null, os: null });
    expect(describeUserAgent(undefined)).toEqual({ browser: null, os: null });
  });
});

describe('session list', () => {
  it('records each sign-in with its device and IP, and marks the current session', async () => {
    const user = await createAccount(t);
    const { config } = await createRelyingParty(t);
    const phone = new DeviceAgent(safari);
    await signInForTokens(phone, config, user);
    const desktop = new DeviceAgent(firefox);
    const page = await signInToAccount(desktop, t.issuer, user, '/account/sessions');
    expect(page.status).toBe(200);

    const sessions = await t.container.sessionService.list(user.id);
    expect(sessions).toHaveLength(2);
    expect(sessions.map((s) => `${s.browser} on ${s.os}`).sort()).toEqual(['Firefox 128 on Windows', 'Safari 17 on iOS']);
    for (const session of sessions) {
      expect(session.ip).toMatch(/127\.0\.0\.1/);
      expect(session.createdAt).toBeInstanceOf(Date);
      expect(session.lastActiveAt).toBeInstanceOf(Date);
    }
    // The page lists both, this browser's first and marked.
    expect(page.html).toContain('Firefox 128');
    expect(page.html).toContain('Safari 17');
    expect(page.html.indexOf('Firefox 128')).toBeLessThan(page.html.indexOf('Safari 17'));
    expect((page.html.match(/This device/g) ?? [])).toHaveLength(1);
    expect(page.html.indexOf('This device')).toBeLessThan(page.html.indexOf('Safari 17'));
    expect(formAction(page.html, '/account/sessions/end-others')).toBeDefined();

    const created = (await auditEvents(t, user.id)).filter((event) => event.type === 'session.created');
    expect(created).toHaveLength(2);
    expect(created.map((event) => event.user_agent).sort()).toEqual([firefox, safari].sort());
  });

  it('refuses a sign-out form without the CSRF token', async () => {
    const user = await createAccount(t);
    const agent = new DeviceAgent(firefox);
    const page = await signInToAccount(agent, t.issuer, user, '/account/sessions');
    const action = formAction(page.html, '/end')!;
    const refused = await agent.request(new URL(action, t.issuer), { form: { csrf: 'forged' } });
    expect(refused.status).toBe(403);
    expect(await t.container.sessionService.list(user.id)).toHaveLength(1);
  });
});

describe('ending sessions', () => {
  it('signs one session out and revokes the refresh token issued under it', async () => {
    const user = await createAccount(t);
    const { config } = await createRelyingParty(t);
    const phone = new DeviceAgent(safari);
    const tokens = await signInForTokens(phone, config, user, offline);
    const desktop = new DeviceAgent(firefox);
    const page = await signInToAccount(desktop, t.issuer, user, '/account/sessions');
    const other = (await t.container.sessionService.list(user.id)).find((session) => session.browser === 'Safari 17')!;

    const done = await submitForm(desktop, page, `/account/sessions/${other.uid}/end`, {});
    expect(done.status).toBe(200);
    expect(done.html).toContain('That session was signed out.');
    expect(done.html).not.toContain('Safari 17');

    const refused = await oidc.refreshTokenGrant(config, tokens.refresh_token!).then(() => undefined, (error: unknown) => error as { error?: string });
    expect(refused?.error).toBe('invalid_grant');
    expect(await authorize(phone, config)).toBe('login');
    // This browser is untouched.
    expect((await desktop.request(new URL('/account/sessions', t.issuer))).status).toBe(200);
    const ended = (await auditEvents(t, user.id)).find((event) => event.type === 'session.ended');
    expect(ended?.details).toMatchObject({ sessionUid: other.uid, grantsRevoked: 1 });
  });

  it('refuses to end a session of another account', async () => {
    const [alice, bob] = [await createAccount(t), await createAccount(t)];
    const { config } = await createRelyingParty(t);
    await signInForTokens(new DeviceAgent(safari), config, bob);
    const bobs = (await t.container.sessionService.list(bob.id))[0]!;
    const agent = new DeviceAgent(firefox);
    const page = await signInToAccount(agent, t.issuer, alice, '/account/sessions');
    const csrf = /name="csrf" value="([^"]+)"/.exec(page.html)![1]!;
    const refused = await agent.request(new URL(`/account/sessions/${bobs.uid}/end`, t.issuer), { form: { csrf } });
    expect(refused.status).toBe(404);
    expect(await t.container.sessionService.list(bob.id)).toHaveLength(1);
  });

  it('signs out everywhere else, keeping this session', async () => {
    const user = await createAccount(t);
    const { config } = await createRelyingParty(t);
    const phone = new DeviceAgent(safari);
    const tokens = await signInForTokens(phone, config, user, offline);
    await signInForTokens(new DeviceAgent('curl/8'), config, user);
    const desktop = new DeviceAgent(firefox);
    const page = await signInToAccount(desktop, t.issuer, user, '/account/sessions');
    expect(await t.container.sessionService.list(user.id)).toHaveLength(3);

    const done = await submitForm(desktop, page, '/account/sessions/end-others', {});
    expect(done.status).toBe(200);
    expect(done.html).toContain('Other sessions signed out: 2.');
    const left = await t.container.sessionService.list(user.id);
    expect(left.map((s) => [s.browser, s.current])).toEqual([['Firefox 128', false]]);
    expect(await authorize(phone, config)).toBe('login');
    const refused = await oidc.refreshTokenGrant(config, tokens.refresh_token!).then(() => undefined, (error: unknown) => error as { error?: string });
    expect(refused?.error).toBe('invalid_grant');
    expect((await auditEvents(t, user.id)).find((event) => event.type === 'sessions.ended_all')?.details).toMatchObject({ sessions: 2, keptCurrent: true });
  });

  it('`users end-sessions` ends every session of an account', async () => {
    const user = await createAccount(t);
    const { config } = await createRelyingParty(t);
    const phone = new DeviceAgent(safari);
    const tokens = await signInForTokens(phone, config, user, offline);
    const desktop = new DeviceAgent(firefox);
    await signInToAccount(desktop, t.issuer, user);

    const result = await cli(['users', 'end-sessions', user.email, '--json']);
    expect(result, result.stderr).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(result.stdout)).toEqual({ id: user.id, email: user.email, sessions_ended: 2 });
    expect(await t.container.sessionService.list(user.id)).toEqual([]);
    expect(await authorize(phone, config)).toBe('login');
    expect((await desktop.request(new URL('/account', t.issuer))).status).toBe(302);
    const refused = await oidc.refreshTokenGrant(config, tokens.refresh_token!).then(() => undefined, (error: unknown) => error as { error?: string });
    expect(refused?.error).toBe('invalid_grant');
    expect((await auditEvents(t, user.id)).find((event) => event.type === 'sessions.ended_all')).toMatchObject({ details: { sessions: 2, keptCurrent: false } });

    const text = await cli(['users', 'end-sessions', user.email]);
    expect(text.stdout).toBe(`ended 0 sessions of ${user.email}`);
    const unknown = await cli(['users', 'end-sessions', 'nobody@example.test']);
    expect(unknown.code).not.toBe(0);
  });
});

describe('session lifetime (NIST SP 800-63B rev 4 AAL2)', () => {
  it('asks for a sign-in again after an hour without activity', async () => {
    const user = await createAccount(t);
    const { config } = await createRelyingParty(t);
    const agent = new DeviceAgent(firefox);
    await signInForTokens(agent, config, user);

    offsetMs = minutes(59);
    expect(await authorize(agent, config)).toBe('sso');
    // Activity restarts the idle timer.
    offsetMs = minutes(59 + 59);
    expect(await authorize(agent, config)).toBe('sso');
    offsetMs = minutes(59 + 59 + 61);
    const request = await authorizationRequest(config);
    const login = await openPage(agent, request.url);
    expect(formAction(login.html, '/login')).toBeDefined();
    // prompt=none gets login_required instead of a page.
    const silent = await openPage(agent, (await authorizationRequest(config, { prompt: 'none' })).url);
    expect(silent.location?.searchParams.get('error')).toBe('login_required');

    // Signing in again continues in the same session.
    const callback = await finishAtCallback(agent, await submitLogin(agent, login, user));
    expect((await request.redeem(callback)).claims()?.sub).toBe(user.id);
    expect(await authorize(agent, config)).toBe('sso');
    expect(await t.container.sessionService.list(user.id)).toHaveLength(1);
  });

  it('treats an idle session as signed out on the account pages', async () => {
    const user = await createAccount(t);
    const agent = new DeviceAgent(firefox);
    await signInToAccount(agent, t.issuer, user);
    offsetMs = minutes(30);
    expect((await agent.request(new URL('/account', t.issuer))).status).toBe(200);
    offsetMs = minutes(30 + 61);
    const page = await agent.follow(new URL('/account/sessions', t.issuer));
    expect(formAction(page.html, '/login'), page.html.slice(0, 300)).toBeDefined();
  });

  it('ends a session 24 hours after sign-in however active it is', async () => {
    const user = await createAccount(t);
    const { config } = await createRelyingParty(t);
    const agent = new DeviceAgent(firefox);
    await signInForTokens(agent, config, user);
    // Active every 50 minutes: never idle.
    for (let elapsed = 50; elapsed < 24 * 60; elapsed += 50) {
      offsetMs = minutes(elapsed);
      expect(await authorize(agent, config), `after ${elapsed} minutes`).toBe('sso');
    }
    offsetMs = minutes(24 * 60 + 10);
    expect(await authorize(agent, config)).toBe('login');
  });

  it('keeps a "Keep me signed in" session for 30 days, without an idle timeout', async () => {
    const user = await createAccount(t);
    const { config } = await createRelyingParty(t);
    const agent = new DeviceAgent(firefox);
    await signInForTokens(agent, config, { ...user, remember: true });
    offsetMs = days(29);
    expect(await authorize(agent, config)).toBe('sso');
    offsetMs = days(30) + minutes(1);
    expect(await authorize(agent, config)).toBe('login');
  });
});
