import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/index.js';
import { BrowserAgent, formAction, type PageResponse } from '../helpers/browser-agent.js';
import {
  alertText, auditEvents, authorizationRequest, createAccount, createRelyingParty, finishAtCallback, linkIn, mailTo, normalisePage,
  openPage, ProxiedBrowserAgent, redirectUri, signInForTokens, spendLink, startAccountsServer, startAccountsServerWithBreaches, strongPassword, submitForm,
  submitLogin, uniqueEmail, userInfo, type AccountsServer,
} from '../helpers/accounts-fixtures.js';

const breachedPassword = 'Correct horse battery staple, breached';
let s: Awaited<ReturnType<typeof startAccountsServerWithBreaches>>;
let hibp: typeof s.hibp;

beforeAll(async () => {
  s = await startAccountsServerWithBreaches([breachedPassword]);
  hibp = s.hibp;
});
afterAll(() => s?.close());

/** Every response from `start` until a page is served, so cookies set along the way can be read. */
async function walk(agent: BrowserAgent, start: URL): Promise<PageResponse[]> {
  const responses = [await agent.request(start)];
  while (responses.at(-1)!.location && responses.length < 20) responses.push(await agent.request(responses.at(-1)!.location!));
  return responses;
}

const cookieLines = (responses: PageResponse[], name: string) => responses.flatMap((r) => r.headers.getSetCookie()).filter((line) => line.startsWith(`${name}=`));
const cookieValue = (line: string | undefined) => line?.split(';')[0]!.split('=').slice(1).join('=');

/** Signs in to /account and returns the session cookie set when the sign-in finished. */
async function signInCollectingCookies(agent: BrowserAgent, credentials: { email: string; password: string; remember?: boolean }) {
  const before = await walk(agent, new URL('/account', s.t.issuer));
  const posted = await submitLogin(agent, before.at(-1)!, credentials);
  expect(posted.status).toBe(303);
  const after = await walk(agent, posted.location!);
  expect(after.at(-1)!.url.pathname).toBe('/account');
  return { before, after, session: cookieLines(after, 'pcl.session').at(-1) };
}

describe('one generic answer for every failed sign-in', () => {
  it('answers an unknown account, a wrong password and a disabled account alike', async () => {
    const known = await createAccount(s.t);
    const disabled = await createAccount(s.t);
    await s.t.container.accounts.setDisabled(disabled.email, true, 'test');
    const attempts = [
      { email: uniqueEmail('nobody'), password: strongPassword() },
      { email: known.email, password: strongPassword() },
      { email: disabled.email, password: disabled.password },
    ];
    const pages: PageResponse[] = [];
    for (const credentials of attempts) {
      const agent = new BrowserAgent();
      const login = await agent.follow(new URL('/account', s.t.issuer));
      pages.push(await submitLogin(agent, login, credentials, {}, { 'user-agent': 'SignInTest/3.0' }));
    }
    for (const [index, page] of pages.entries()) {
      expect(page.status).toBe(400);
      expect(alertText(page.html)).toBe('The email or password is incorrect.');
      expect(normalisePage(page.html, attempts[index]!.email)).toBe(normalisePage(pages[0]!.html, attempts[0]!.email));
    }
    const [failure] = (await auditEvents(s.t, known.id)).filter((event) => event.type === 'login.failed');
    expect(failure).toMatchObject({ ip: '127.0.0.1', user_agent: 'SignInTest/3.0', client_id: 'portcullis-account', details: { reason: 'invalid_credentials' } });
  });
});

describe('sessions', () => {
  it('"remember me" sets a persistent session cookie; otherwise the cookie ends with the browser', async () => {
    const user = await createAccount(s.t);
    const remembered = await signInCollectingCookies(new BrowserAgent(), { ...user, remember: true });
    const expires = /expires=([^;]+)/i.exec(remembered.session!)?.[1];
    expect(expires, remembered.session).toBeDefined();
    const days = (new Date(expires!).getTime() - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(29);
    expect(days).toBeLessThanOrEqual(30);

    const transient = await signInCollectingCookies(new BrowserAgent(), user);
    expect(transient.session).toBeDefined();
    expect(transient.session).not.toMatch(/expires=|max-age=/i);
    expect(transient.session).toMatch(/httponly/i);
    expect(transient.session).toMatch(/samesite=lax/i);
  });

  it('gives every sign-in a new session id, so a planted cookie signs nobody in', async () => {
    const user = await createAccount(s.t);
    // Nothing to fix before the password is verified: no session cookie is handed out.
    const agent = new PlantingAgent('pcl.session=attacker-chosen-id; pcl.session.sig=forged');
    expect(cookieLines(await walk(agent, new URL('/account', s.t.issuer)), 'pcl.session')).toEqual([]);
    const { session } = await signInCollectingCookies(agent, user);
    expect(cookieValue(session)).toMatch(/^[\w-]{20,}$/);
    expect(cookieValue(session)).not.toBe('attacker-chosen-id');
    expect(await s.t.container.adapter('Session').find('attacker-chosen-id')).toBeUndefined();

    // Signing in again (prompt=login) in the same browser rotates the id, and the old one is dead.
    const { config } = await createRelyingParty(s.t);
    const first = agent.ownCookies(new URL('/', s.t.issuer));
    expect((await new BrowserAgent().request(new URL('/account', s.t.issuer), { headers: { cookie: first } })).status).toBe(200);
    await signInForTokens(agent, config, user, { prompt: 'login' });
    expect(agent.ownCookies(new URL('/', s.t.issuer))).not.toBe(first);
    expect((await agent.request(new URL('/account', s.t.issuer))).status).toBe(200);
    const old = await new BrowserAgent().request(new URL('/account', s.t.issuer), { headers: { cookie: first } });
    expect(old.status).toBe(302);
    expect(old.location!.pathname).toBe('/auth');
  });
});

describe('behind a TLS-terminating proxy with an https issuer', () => {
  let secure: AccountsServer;
  beforeAll(async () => {
    secure = await startAccountsServer({ issuer: 'https://id.portcullis.test', http: { trustedProxies: ['127.0.0.1'] } });
  });
  afterAll(() => secure?.close());

  it('names the session and CSRF cookies __Host-: Secure, Path=/, no Domain', async () => {
    const user = await createAccount(secure.t);
    const issuer = secure.t.container.config.issuer;
    const agent = new ProxiedBrowserAgent(issuer, `http://127.0.0.1:${new URL(secure.t.issuer).port}`);
    const before = await walk(agent, new URL('/account', issuer));
    const posted = await submitLogin(agent, before.at(-1)!, user);
    expect(posted.status).toBe(303);
    const after = await walk(agent, posted.location!);
    expect(after.at(-1)).toMatchObject({ status: 200 });
    expect(after.at(-1)!.url.pathname).toBe('/account');

    const all = [...before, posted, ...after];
    for (const name of ['__Host-pcl.session', '__Host-pcl.session.sig', '__Host-pcl.csrf']) {
      const line = cookieLines(all, name).at(-1);
      expect(line, name).toBeDefined();
      expect(line).toMatch(/;\s*secure/i);
      expect(line).toMatch(/;\s*path=\/(;|$)/i);
      expect(line).not.toMatch(/domain=/i);
    }
    expect(cookieLines(all, '__Secure-pcl.interaction')).not.toEqual([]);
    expect(cookieLines(all, 'pcl.session')).toEqual([]);
  });
});

describe('unverified email addresses, per client', () => {
  /** Runs the CLI in-process against this server's database; returns its parsed --json output. */
  async function cli(argv: string[]) {
    const out: string[] = [];
    const code = await runCli([...argv, '--json'], { env: s.t.env, write: (text) => out.push(text), writeError: (text) => out.push(text) });
    expect(code, out.join('\n')).toBe(0);
    return JSON.parse(out.join('\n')) as Record<string, unknown>;
  }

  it('blocks the sign-in unless the client allows unverified emails (clients update --[no-]allow-unverified-email)', async () => {
    const user = await createAccount(s.t, { verified: false });
    const strict = await createRelyingParty(s.t, { name: 'Strict app' });
    const lenient = await createRelyingParty(s.t, { name: 'Lenient app' });
    expect(await cli(['clients', 'update', lenient.clientId, '--allow-unverified-email'])).toMatchObject({ allow_unverified_email: true });
    expect(await s.t.container.clients.oidcMetadata(lenient.clientId)).toMatchObject({ allow_unverified_email: true });

    const agent = new BrowserAgent();
    const request = await authorizationRequest(strict.config);
    const blocked = await submitLogin(agent, await openPage(agent, request.url), user);
    expect(blocked.status).toBe(403);
    expect(blocked.html).toContain(`Strict app needs a confirmed email address. Open the link we emailed to ${user.email}`);
    expect(formAction(blocked.html, '/resend')).toBeDefined();
    // No session was created: the person is still anonymous.
    expect(agent.cookieNames()).not.toContain('pcl.session');

    const tokens = await signInForTokens(new BrowserAgent(), lenient.config, user);
    expect(await userInfo(lenient.config, tokens)).toMatchObject({ email: user.email, email_verified: false });

    expect(await cli(['clients', 'update', lenient.clientId, '--no-allow-unverified-email'])).toMatchObject({ allow_unverified_email: false });
    const again = new BrowserAgent();
    expect((await submitLogin(again, await openPage(again, (await authorizationRequest(lenient.config)).url), user)).status).toBe(403);
  });

  it('does not let a session started at a lenient client satisfy a strict one', async () => {
    const user = await createAccount(s.t, { verified: false });
    const strict = await createRelyingParty(s.t, { name: 'Strict app' });
    const lenient = await createRelyingParty(s.t, { name: 'Lenient app', allowUnverifiedEmail: true });
    const agent = new BrowserAgent();
    await signInForTokens(agent, lenient.config, user);
    expect(agent.cookieNames()).toContain('pcl.session');

    const silent = await openPage(agent, (await authorizationRequest(strict.config, { prompt: 'none' })).url);
    expect(silent.location!.searchParams.get('error')).toBe('login_required');
    const request = await authorizationRequest(strict.config);
    const page = await openPage(agent, request.url);
    expect(page.location?.href.startsWith(redirectUri) ?? false, 'no code for the strict client').toBe(false);
    expect(formAction(page.html, '/login'), page.html.slice(0, 300)).toBeDefined();
    const blocked = await submitLogin(agent, page, user);
    expect(blocked.status).toBe(403);
    expect(blocked.html).toContain('Strict app needs a confirmed email address');
  });

  it('resends the link from the blocked page; once verified the same sign-in finishes with email_verified true', async () => {
    const user = await createAccount(s.t, { verified: false });
    const { config } = await createRelyingParty(s.t);
    const agent = new BrowserAgent();
    const request = await authorizationRequest(config);
    const login = await openPage(agent, request.url);
    const blocked = await submitLogin(agent, login, user);
    const sent = await submitForm(agent, blocked, '/resend', {});
    expect(sent.status).toBe(200);
    expect(sent.html).toContain('a new link is on its way');

    const link = linkIn(s.mail, await mailTo(s.mail, user.email, /Confirm your email address/), '/verify-email');
    expect(link.searchParams.get('return')).toBe(login.url.pathname.split('/')[2]);
    expect((await spendLink(agent, link)).done.html).toContain('Email address confirmed');
    const callback = await finishAtCallback(agent, await submitLogin(agent, await agent.request(login.url), user));
    expect(await userInfo(config, await request.redeem(callback))).toMatchObject({ email: user.email, email_verified: true });
  });
});

describe('a password found in a breach since it was set (HIBP at sign-in)', () => {
  it('must be replaced before the sign-in finishes', async () => {
    const user = await createAccount(s.t, { password: breachedPassword });
    const { config } = await createRelyingParty(s.t);
    const agent = new BrowserAgent();
    const request = await authorizationRequest(config);
    const login = await openPage(agent, request.url);
    const step = await submitLogin(agent, login, { ...user, remember: true });
    expect(step.status).toBe(200);
    expect(step.html).toContain('Your password appeared in a data breach elsewhere');
    expect(formAction(step.html, '/new-password')).toBeDefined();
    // Nothing is signed in yet, and reloading the sign-in keeps asking for the new password.
    expect(agent.cookieNames()).not.toContain('pcl.session');
    expect((await agent.request(login.url)).html).toContain('Your password appeared in a data breach elsewhere');

    const again = await submitForm(agent, step, '/new-password', { password: breachedPassword });
    expect(again.status).toBe(400);
    expect(alertText(again.html)).toBe('This password appeared in a data breach. Choose another.');
    const replacement = strongPassword();
    const callback = await finishAtCallback(agent, await submitForm(agent, again, '/new-password', { password: replacement }));
    expect((await request.redeem(callback)).claims()!.sub).toBe(user.id);

    expect(await s.t.container.accounts.authenticate(user.email, breachedPassword, {})).toBeUndefined();
    expect(await s.t.container.accounts.authenticate(user.email, replacement, {})).toBeDefined();
    await mailTo(s.mail, user.email, /password was changed/);
    const events = await auditEvents(s.t, user.id);
    expect(events.map((event) => event.type)).toEqual(expect.arrayContaining(['password.breach_detected', 'password.changed']));
    expect(events.find((event) => event.type === 'password.changed')!.details).toEqual({ reason: 'breached' });
  });

  it('refuses the new-password step when no breached sign-in is pending', async () => {
    const { config } = await createRelyingParty(s.t);
    const agent = new BrowserAgent();
    const login = await openPage(agent, (await authorizationRequest(config)).url);
    const forced = await agent.request(new URL(`${login.url.pathname}/new-password`, login.url), { form: { csrf: 'x', password: strongPassword() } });
    expect(forced.status).toBe(400);
    expect(agent.cookieNames()).not.toContain('pcl.session');
  });
});

/** A browser with cookies an attacker planted (sent after its own, so real cookies win once set). */
class PlantingAgent extends BrowserAgent {
  constructor(private readonly planted: string) {
    super();
  }

  ownCookies(url: URL): string {
    return super.cookieHeader(url);
  }

  override cookieHeader(url: URL): string {
    return [super.cookieHeader(url), this.planted].filter(Boolean).join('; ');
  }
}
