import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/eventually.js';
import { BrowserAgent, type PageResponse } from '../helpers/browser-agent.js';
import {
  alertText, auditEvents, createAccount, linkIn, mailTo, messagesTo, normalisePage, solveAltcha, spendLink, startAccountsServer,
  strongPassword, submitLogin, uniqueEmail, type AccountsServer,
} from '../helpers/accounts-fixtures.js';

const userAgent = 'LockoutTest/1.0';
const lockedHeading = 'Sign-in temporarily blocked';

/** The login page of a fresh sign-in (through the account pages' own client). */
async function loginPage(server: AccountsServer, agent = new BrowserAgent(), origin = server.t.issuer): Promise<PageResponse> {
  return agent.follow(new URL('/account', origin));
}

describe('account lockout (captcha off, generous rate limits)', () => {
  let s: AccountsServer;
  beforeAll(async () => {
    s = await startAccountsServer({ rateLimits: { loginPerIp: { points: 1000, durationSeconds: 60 }, loginPerAccount: { points: 1000, durationSeconds: 60 } } });
  });
  afterAll(() => s?.close());

  /** Five wrong passwords in a row; returns every answer. */
  async function failFiveTimes(email: string) {
    const agent = new BrowserAgent();
    const page = await loginPage(s, agent);
    const answers: PageResponse[] = [];
    for (let i = 0; i < 5; i++) answers.push(await submitLogin(agent, page, { email, password: strongPassword() }, {}, { 'user-agent': userAgent }));
    return { agent, page, answers };
  }

  it('locks after 5 consecutive failures with 429 + Retry-After, and emails the owner an unlock link', async () => {
    const user = await createAccount(s.t);
    const { agent, page, answers } = await failFiveTimes(user.email);
    expect(answers.slice(0, 4).map((a) => a.status)).toEqual([400, 400, 400, 400]);
    const locked = answers[4]!;
    expect(locked.status).toBe(429);
    expect(locked.headers.get('retry-after')).toBe('900');
    expect(locked.html).toContain(lockedHeading);
    expect(locked.html).toContain('Try again in about 15 minutes');

    // The right password doesn't get through a lock.
    const right = await submitLogin(agent, page, user);
    expect(right.status).toBe(429);

    const message = await mailTo(s.mail, user.email, /temporarily locked/);
    expect(message.text).toContain('15 minutes');
    expect(linkIn(s.mail, message, '/unlock').searchParams.get('token')).toMatch(/^[\w-]{43}$/);

    const events = await auditEvents(s.t, user.id);
    expect(events.filter((e) => e.type === 'login.failed')).toHaveLength(5);
    const lock = events.filter((e) => e.type === 'account.locked');
    expect(lock).toHaveLength(1);
    expect(lock[0]).toMatchObject({ ip: '127.0.0.1', user_agent: userAgent, details: { lockSeconds: 900, permanent: false } });
    expect(events.some((e) => e.type === 'login.succeeded')).toBe(false);
  });

  it('shows an unknown email exactly the same lockout, and emails nobody', async () => {
    const user = await createAccount(s.t);
    const unknown = uniqueEmail('ghost');
    const known = (await failFiveTimes(user.email)).answers;
    const ghost = (await failFiveTimes(unknown)).answers;
    expect(ghost.map((a) => a.status)).toEqual(known.map((a) => a.status));
    expect(ghost[4]!.headers.get('retry-after')).toBe(known[4]!.headers.get('retry-after'));
    expect(normalisePage(ghost[4]!.html)).toBe(normalisePage(known[4]!.html));
    await mailTo(s.mail, user.email, /temporarily locked/);
    expect(messagesTo(s.mail, unknown)).toEqual([]);
  });

  it('lifts the lock with the emailed link, once', async () => {
    const user = await createAccount(s.t);
    await failFiveTimes(user.email);
    const link = linkIn(s.mail, await mailTo(s.mail, user.email, /temporarily locked/), '/unlock');
    const { page, done } = await spendLink(new BrowserAgent(), link);
    expect(page.html).toContain('Unlock my account');
    expect(done.status).toBe(200);
    expect(done.html).toContain('Account unlocked');
    expect((await spendLink(new BrowserAgent(), link)).page.status).toBe(404);

    const agent = new BrowserAgent();
    const signedIn = await submitLogin(agent, await loginPage(s, agent), user);
    expect(signedIn.status).toBe(303);
    const [unlocked, succeeded] = (await auditEvents(s.t, user.id)).slice(-2);
    expect(unlocked).toMatchObject({ type: 'account.unlocked', ip: '127.0.0.1', details: { via: 'email_link' } });
    expect(succeeded).toMatchObject({ type: 'login.succeeded', ip: '127.0.0.1', client_id: 'portcullis-account' });
  });

  it('lets no more than 5 of 20 parallel wrong passwords be tried', async () => {
    const user = await createAccount(s.t);
    const agent = new BrowserAgent();
    const page = await loginPage(s, agent);
    const answers = await Promise.all(Array.from({ length: 20 }, () => submitLogin(agent, page, { email: user.email, password: strongPassword() })));
    const statuses = answers.map((a) => a.status);
    // Four plain failures; the fifth failure placed the lock and every other attempt met it.
    expect(statuses.filter((status) => status === 400)).toHaveLength(4);
    expect(statuses.filter((status) => status === 429)).toHaveLength(16);
    // The lock is announced by the outbox worker, just after the answer.
    const events = await eventually(
      () => auditEvents(s.t, user.id),
      (rows) => rows.some((e) => e.type === 'account.locked'),
    );
    expect(events.filter((e) => e.type === 'login.failed')).toHaveLength(5);
    expect(events.filter((e) => e.type === 'account.locked')).toHaveLength(1);
    expect((await submitLogin(agent, page, user)).status).toBe(429);
  });
});

describe('CAPTCHA escalation and rate limits (altcha, small limits, behind a trusted proxy)', () => {
  let s: AccountsServer;
  let origin: string;
  beforeAll(async () => {
    s = await startAccountsServer({
      captcha: { provider: 'altcha', altchaMaxNumber: 1000, loginFailuresBeforeCaptcha: 2 },
      http: { trustedProxies: ['127.0.0.1'] },
      rateLimits: { loginPerIp: { points: 5, durationSeconds: 120 }, loginPerAccount: { points: 5, durationSeconds: 120 } },
    });
    // The trusted proxy is 127.0.0.1, so requests must come from exactly that address: the server
    // listens on 127.0.0.1 only, so the issuer's localhost reaches it from there (and its Host is the issuer's).
    origin = s.t.issuer;
  });
  afterAll(() => s?.close());

  const from = (ip: string) => ({ 'x-forwarded-for': ip });
  const widget = /<altcha-widget [^>]*name="altcha"/;

  it('asks for a solved challenge after loginFailuresBeforeCaptcha failures, then accepts the sign-in', async () => {
    const user = await createAccount(s.t);
    const agent = new BrowserAgent();
    const page = await loginPage(s, agent, origin);
    expect(page.html).not.toMatch(widget);
    const ip = from('198.51.100.7');

    const first = await submitLogin(agent, page, { email: user.email, password: strongPassword() }, {}, ip);
    expect(first.html).not.toMatch(widget);
    const second = await submitLogin(agent, page, { email: user.email, password: strongPassword() }, {}, ip);
    expect(second.status).toBe(400);
    expect(second.html, 'the form after the last allowed failure shows the widget').toMatch(widget);

    const missing = await submitLogin(agent, page, user, {}, ip);
    expect(missing.status).toBe(400);
    expect(alertText(missing.html)).toBe('Too many failed attempts: complete the check below, then sign in again.');
    expect(missing.html).toMatch(widget);
    const bogus = await submitLogin(agent, page, user, { altcha: Buffer.from('{"challenge":{},"solution":{}}').toString('base64') }, ip);
    expect(bogus.status).toBe(400);
    expect(alertText(bogus.html)).toBe('The check was not completed. Try again.');

    const solved = await submitLogin(agent, page, user, { altcha: await solveAltcha(origin) }, ip);
    expect(solved.status).toBe(303);
  });

  it('answers 429 with Retry-After past the per-IP limit', async () => {
    const agent = new BrowserAgent();
    const page = await loginPage(s, agent, origin);
    const answers: PageResponse[] = [];
    for (let i = 0; i < 6; i++) answers.push(await submitLogin(agent, page, { email: uniqueEmail('spray'), password: strongPassword() }, {}, from('198.51.100.20')));
    expect(answers.map((a) => a.status)).toEqual([400, 400, 400, 400, 400, 429]);
    const retryAfter = Number(answers[5]!.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(120);
    expect(alertText(answers[5]!.html)).toBe('Too many attempts. Wait a while and try again.');
    // Another address is not limited by this one.
    expect((await submitLogin(agent, page, { email: uniqueEmail('other'), password: strongPassword() }, {}, from('198.51.100.21'))).status).toBe(400);
  });

  it('answers 429 with Retry-After past the per-account limit, whichever IP asks', async () => {
    const user = await createAccount(s.t);
    const agent = new BrowserAgent();
    const page = await loginPage(s, agent, origin);
    const answers: PageResponse[] = [];
    for (let i = 0; i < 6; i++) answers.push(await submitLogin(agent, page, { email: user.email, password: strongPassword() }, {}, from(`203.0.113.${i + 1}`)));
    expect(answers.map((a) => a.status)).toEqual([400, 400, 400, 400, 400, 429]);
    expect(Number(answers[5]!.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(answers[5]!.html).not.toContain(lockedHeading);
    // The limit holds for the right password too.
    expect((await submitLogin(agent, page, user, {}, from('203.0.113.99'))).status).toBe(429);
  });
});
