import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/eventually.js';
import { BrowserAgent, formValue, type PageResponse } from '../helpers/browser-agent.js';
import {
  accountRow, alertText, auditEvents, createAccount, fieldError, linkIn, mailTo, messagesTo, normalisePage, solveAltcha,
  startAccountsServer, startAccountsServerWithBreaches, strongPassword, submitForm, uniqueEmail, type AccountsServer,
} from '../helpers/accounts-fixtures.js';

const breachedPassword = 'Purple monkey dishwasher on a Tuesday';
const userAgent = 'RegistrationTest/1.0';

let s: Awaited<ReturnType<typeof startAccountsServerWithBreaches>>;
let hibp: typeof s.hibp;

beforeAll(async () => {
  s = await startAccountsServerWithBreaches([breachedPassword]);
  hibp = s.hibp;
});
afterAll(() => s?.close());

/** The sign-up page of a sign-in that started at /account. */
async function openRegister(agent: BrowserAgent, origin = s.t.issuer): Promise<PageResponse> {
  const login = await agent.follow(new URL('/account', origin));
  expect(login.status).toBe(200);
  const register = await agent.request(new URL(`${login.url.pathname}/register`, login.url));
  expect(register.status).toBe(200);
  return register;
}

const register = (agent: BrowserAgent, page: PageResponse, fields: Record<string, string>) =>
  submitForm(agent, page, '/register', fields, { 'user-agent': userAgent });

describe('registration with email and password', () => {
  it('shows name, email and password fields and no CAPTCHA when it is turned off', async () => {
    const page = await openRegister(new BrowserAgent());
    for (const field of ['name', 'email', 'password']) expect(page.html).toContain(`name="${field}"`);
    expect(page.html).toContain('autocomplete="new-password"');
    expect(page.html).not.toContain('altcha-widget');
  });

  it('creates an unverified account, emails a verification link and audits both', async () => {
    const agent = new BrowserAgent();
    const email = uniqueEmail('new');
    const page = await openRegister(agent);
    const done = await register(agent, page, { name: 'Ada Lovelace', email, password: strongPassword() });
    expect(done.status).toBe(200);
    expect(done.html).toContain('Check your email');
    expect(done.html).toContain(email);

    const account = await accountRow(s.t, email);
    expect(account).toMatchObject({ email, name: 'Ada Lovelace', emailVerified: false });
    expect(account.passwordHash).toMatch(/^\$argon2id\$/);
    const message = await mailTo(s.mail, email, /Confirm your email address/);
    const link = linkIn(s.mail, message, '/verify-email');
    expect(link.searchParams.get('token')).toMatch(/^[\w-]{43}$/);
    // The link carries the sign-in in progress, so the person can continue it after verifying.
    expect(link.searchParams.get('return')).toBe(page.url.pathname.split('/')[2]);

    // The worker records the delivery once SMTP accepted the message: "queued" first, never "sent" before it is.
    const events = await eventually(
      () => auditEvents(s.t, account.id),
      (rows) => rows.some((event) => event.type === 'email.delivered'),
    );
    expect(events.map((event) => event.type)).toEqual(['account.registered', 'email.queued', 'email.delivered']);
    expect(events[0]).toMatchObject({ ip: '127.0.0.1', user_agent: userAgent });
    expect(events[1]!.details).toMatchObject({ template: 'verify-email' });
  });

  it('keeps the name optional', async () => {
    const agent = new BrowserAgent();
    const email = uniqueEmail('noname');
    const done = await register(agent, await openRegister(agent), { email, password: strongPassword() });
    expect(done.status).toBe(200);
    expect((await accountRow(s.t, email)).name).toBeNull();
  });
});

describe('the NIST password policy', () => {
  const refused = [
    { why: 'shorter than 15 characters', password: 'Xq7#mP2!vL9', message: 'Use at least 15 characters.' },
    { why: 'too easy to guess (zxcvbn score)', password: 'passwordpassword1234', message: 'This password is too easy to guess.' },
    { why: 'containing the email\'s local part', password: 'EMAILPART Wobbly Kettle Dancing 93', message: 'Don\'t use your email address in your password.' },
    { why: 'found in the breach corpus (HIBP range API)', password: breachedPassword, message: 'This password appeared in a data breach.' },
  ];

  it.each(refused)('refuses a password $why with a field error and creates nothing', async ({ password, message }) => {
    const agent = new BrowserAgent();
    const email = uniqueEmail('policy');
    const localPart = email.split('@')[0]!;
    const response = await register(agent, await openRegister(agent), { email, password: password.replace('EMAILPART', localPart) });
    expect(response.status).toBe(400);
    expect(fieldError(response.html, 'password')).toContain(message);
    // What was typed stays, except the password.
    expect(response.html).toContain(`value="${email}"`);
    expect(response.html).not.toContain(password);
    expect(await s.t.container.db.repos.accounts.findByEmail(email)).toBeNull();
  });

  it('asks the breach API with only a 5-character SHA-1 prefix', async () => {
    const agent = new BrowserAgent();
    await register(agent, await openRegister(agent), { email: uniqueEmail('prefix'), password: breachedPassword });
    const digest = createHash('sha1').update(breachedPassword).digest('hex').toUpperCase();
    expect(hibp.prefixes).toContain(digest.slice(0, 5));
    for (const prefix of hibp.prefixes) expect(prefix).toMatch(/^[0-9A-F]{5}$/);
  });

  it('refuses a malformed email with a field error', async () => {
    const agent = new BrowserAgent();
    const response = await register(agent, await openRegister(agent), { email: 'not-an-address', password: strongPassword() });
    expect(response.status).toBe(400);
    expect(fieldError(response.html, 'email')).toBe('Enter a valid email address.');
  });
});

describe('no account enumeration', () => {
  it('answers an existing address exactly like a new one and emails the owner a notice instead', async () => {
    const owner = await createAccount(s.t, { email: uniqueEmail('owner') });
    const before = await accountRow(s.t, owner.email);
    const fresh = uniqueEmail('fresh');

    const agentA = new BrowserAgent();
    const duplicate = await register(agentA, await openRegister(agentA), { email: owner.email.toUpperCase(), password: strongPassword() });
    const agentB = new BrowserAgent();
    const created = await register(agentB, await openRegister(agentB), { email: fresh, password: strongPassword() });

    expect(duplicate.status).toBe(created.status);
    expect(normalisePage(duplicate.html, owner.email.toUpperCase())).toBe(normalisePage(created.html, fresh));

    const notice = await mailTo(s.mail, owner.email, /You already have an account/);
    expect(linkIn(s.mail, notice, '/forgot-password')).toBeDefined();
    await mailTo(s.mail, fresh, /Confirm your email address/);
    expect(messagesTo(s.mail, owner.email).map((message) => message.subject)).toEqual([notice.subject]);
    // The existing account is untouched: same password hash, still one account for the address.
    const after = await accountRow(s.t, owner.email);
    expect(after.passwordHash).toBe(before.passwordHash);
    const [{ count }] = await s.t.container.dataSource.query(`SELECT count(*)::int AS count FROM accounts WHERE lower(email) = lower($1)`, [owner.email]);
    expect(count).toBe(1);
    expect((await auditEvents(s.t, owner.id)).map((event) => event.type)).toContain('account.registration_duplicate');
  });
});

describe('CSRF', () => {
  it('refuses a sign-up POST without the form token with 403', async () => {
    const agent = new BrowserAgent();
    const page = await openRegister(agent);
    const email = uniqueEmail('csrf');
    const forged = await agent.request(new URL(`${page.url.pathname}`, page.url), { form: { email, password: strongPassword() } });
    expect(forged.status).toBe(403);
    expect(alertText(forged.html)).toMatch(/form expired or was sent from another site/);
    expect(await s.t.container.db.repos.accounts.findByEmail(email)).toBeNull();
  });
});

describe('CAPTCHA on sign-up (altcha, the default provider)', () => {
  let captchaServer: AccountsServer;
  beforeAll(async () => {
    captchaServer = await startAccountsServer({ captcha: { provider: 'altcha', altchaMaxNumber: 1000 } });
  });
  afterAll(() => captchaServer?.close());

  it('shows the widget and refuses a sign-up without a solved challenge', async () => {
    const agent = new BrowserAgent();
    const page = await openRegister(agent, captchaServer.t.issuer);
    expect(page.html).toMatch(/<altcha-widget [^>]*name="altcha"/);
    const email = uniqueEmail('bot');
    const response = await submitForm(agent, page, '/register', { email, password: strongPassword() });
    expect(response.status).toBe(400);
    expect(alertText(response.html)).toBe('The check was not completed. Try again.');
    expect(await captchaServer.t.container.db.repos.accounts.findByEmail(email)).toBeNull();
  });

  it('accepts a sign-up with a solved challenge, once', async () => {
    const agent = new BrowserAgent();
    const page = await openRegister(agent, captchaServer.t.issuer);
    const altcha = await solveAltcha(captchaServer.t.issuer);
    const email = uniqueEmail('human');
    const response = await submitForm(agent, page, '/register', { email, password: strongPassword(), altcha });
    expect(response.status).toBe(200);
    expect(response.html).toContain('Check your email');
    expect(await captchaServer.t.container.db.repos.accounts.findByEmail(email)).not.toBeNull();
    // The same solution again is a replay.
    const again = await openRegister(agent, captchaServer.t.issuer);
    const replay = await submitForm(agent, again, '/register', { email: uniqueEmail('replay'), password: strongPassword(), altcha });
    expect(replay.status).toBe(400);
    expect(formValue(replay.html, 'csrf')).toBeDefined();
  });
});
