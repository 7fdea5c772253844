import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BrowserAgent, type PageResponse } from '../helpers/browser-agent.js';
import { eventually } from '../helpers/eventually.js';
import {
  auditEvents,
  createAccount,
  fieldError,
  mailTo,
  messagesTo,
  startAccountsServer,
  strongPassword,
  submitForm,
  submitLogin,
  uniqueEmail,
  type AccountsServer,
} from '../helpers/accounts-fixtures.js';

/** Every character of an ASCII address in its fullwidth form (U+FF01–FF5E), which NFKC maps back. */
const fullwidth = (text: string) => [...text].map((ch) => String.fromCodePoint(ch.codePointAt(0)! + 0xfee0)).join('');

const ambiguousMessage =
  'This address contains a character that can be spelled more than one way (such as a dotted or dotless i, ß or a ' +
  'stray accent). Type it with plain letters.';
const controlMessage = 'This address contains an invisible or control character. Retype it rather than pasting it.';

let s: AccountsServer;
beforeAll(async () => {
  s = await startAccountsServer({
    rateLimits: {
      loginPerIp: { points: 1000, durationSeconds: 60 }, loginPerAccount: { points: 1000, durationSeconds: 60 },
      resetPerIp: { points: 1000, durationSeconds: 60 }, resetPerAccount: { points: 2, durationSeconds: 3600 },
      registrationPerIp: { points: 1000, durationSeconds: 60 },
    },
  });
});
afterAll(() => s?.close());

const loginPage = (agent: BrowserAgent) => agent.follow(new URL('/account', s.t.issuer));

async function openRegister(agent: BrowserAgent): Promise<PageResponse> {
  const login = await loginPage(agent);
  return agent.request(new URL(`${login.url.pathname}/register`, login.url));
}

async function requestReset(email: string, headers: Record<string, string> = {}): Promise<PageResponse> {
  const agent = new BrowserAgent();
  const form = await agent.request(new URL('/forgot-password', s.t.issuer), { headers });
  return submitForm(agent, form, '/forgot-password', { email }, headers);
}

const rowsLike = async (fragment: string) => ((await s.t.container.dataSource.query(
  `SELECT count(*)::int AS n FROM accounts WHERE strpos(email, $1) > 0`, [fragment])) as [{ n: number }])[0].n;

describe('one lockout per account, however the address is spelled', () => {
  it('counts failures under upper-case, fullwidth and padded spellings as one, and locks the account', async () => {
    const user = await createAccount(s.t, { email: uniqueEmail('lock') });
    const [local, domain] = user.email.split('@') as [string, string];
    const spellings = [
      user.email.toUpperCase(),
      `${fullwidth(local)}@${domain}`,
      `  ${user.email}  `,
      `${local}＠${domain.toUpperCase()}`,
      user.email,
    ];
    const agent = new BrowserAgent();
    const page = await loginPage(agent);
    const answers: number[] = [];
    for (const email of spellings)
      answers.push((await submitLogin(agent, page, { email, password: strongPassword() })).status);
    // Five consecutive failures (lockout.threshold) in five spellings: the fifth places the lock.
    expect(answers).toEqual([400, 400, 400, 400, 429]);
    // The right password, in yet another spelling, meets the same lock.
    const right = await submitLogin(agent, page, { email: user.email.toUpperCase(), password: user.password });
    expect(right.status).toBe(429);
    await mailTo(s.mail, user.email, /temporarily locked/);
    const events = await auditEvents(s.t, user.id);
    expect(events.filter((e) => e.type === 'login.failed')).toHaveLength(5);
    expect(events.some((e) => e.type === 'login.succeeded')).toBe(false);
  });

  it('refuses an ambiguous or control-character spelling with 400 before any lookup or counter', async () => {
    const user = await createAccount(s.t, { email: uniqueEmail('inci') });
    const agent = new BrowserAgent();
    const page = await loginPage(agent);
    const dotted = user.email.replace('i', '\u0130');
    const refusedAmbiguous = await submitLogin(agent, page, { email: dotted, password: user.password });
    expect(refusedAmbiguous.status).toBe(400);
    expect(fieldError(refusedAmbiguous.html, 'email')).toBe(ambiguousMessage);
    const refusedControl = await submitLogin(agent, page, {
      email: `${user.email.slice(0, 3)}\u202e${user.email.slice(3)}`,
      password: user.password,
    });
    expect(refusedControl.status).toBe(400);
    expect(fieldError(refusedControl.html, 'email')).toBe(controlMessage);
    // Nothing was recorded against the account, and its own spelling still signs in.
    expect((await auditEvents(s.t, user.id)).filter((e) => e.type.startsWith('login.'))).toEqual([]);
    expect((await submitLogin(agent, await loginPage(agent), user)).status).toBe(303);
  });
});

describe('forgot-password rate limit per account', () => {
  it('shares one counter between spellings, and refuses ambiguous ones without mail', async () => {
    const user = await createAccount(s.t, { email: uniqueEmail('reset') });
    expect((await requestReset(user.email.toUpperCase())).status).toBe(200);
    expect((await requestReset(fullwidth(user.email))).status).toBe(200);
    // resetPerAccount allows 2 per hour: a third spelling is the same account, so it is refused.
    expect((await requestReset(` ${user.email.replace(/^./, (c) => c.toUpperCase())} `)).status).toBe(429);
    const refused = await requestReset(user.email.replace('@', '\u200b@'));
    expect(refused.status).toBe(400);
    expect(fieldError(refused.html, 'email')).toBe(controlMessage);
    const french = await requestReset(user.email.replace('e', '\u0130'), { 'accept-language': 'fr' });
    expect(french.status).toBe(400);
    expect(fieldError(french.html, 'email')).toMatch(
      /^Cette adresse contient un caractère qui s'écrit de plusieurs façons/,
    );
    const resets = () => messagesTo(s.mail, user.email).filter((m) => /Reset your/.test(m.subject ?? ''));
    // Delivery is asynchronous: wait (bounded) for the second of the two allowed requests' mails.
    await s.mail.waitFor(() => resets().length >= 2);
    expect(resets()).toHaveLength(2);
  });
});

describe('registration and account creation by canonical form', () => {
  it('creates no second account for a respelled address: the owner is told instead', async () => {
    const owner = await createAccount(s.t, { email: uniqueEmail('owner') });
    const agent = new BrowserAgent();
    const done = await submitForm(agent, await openRegister(agent), '/register', {
      email: fullwidth(owner.email).toUpperCase(),
      password: strongPassword(),
    });
    // The hosted form answers as for a new address (no enumeration); no row is written.
    expect(done.status).toBe(200);
    const canonical = owner.email.toLowerCase();
    const rows = await s.t.container.dataSource.query(`SELECT id FROM accounts WHERE email_canonical = $1`,
      [canonical]) as Array<{ id: string }>;
    expect(rows.map((row) => row.id)).toEqual([owner.id]);
    // The outbox worker tells the owner moments after the answer: wait (bounded) for its audit event.
    const types = (await eventually(() => auditEvents(s.t, owner.id),
      (events) => events.some((e) => e.type === 'account.registration_duplicate'))).map((e) => e.type);
    expect(types).toContain('account.registration_duplicate');
    expect(types).not.toContain('account.registered');
    await mailTo(s.mail, owner.email, /You already have an account/);
  });

  it('refuses a respelled duplicate from admin create with 409 email_taken', async () => {
    const owner = await createAccount(s.t, { email: uniqueEmail('taken') });
    const refused = await s.t.container.accounts
      .create({ email: ` ${owner.email.toUpperCase()}`, password: strongPassword() }, 'test')
      .catch((e: unknown) => e);
    expect(refused).toMatchObject({ status: 409, code: 'email_taken' });
  });

  it('refuses ambiguous and control-character addresses at sign-up with 400 and writes nothing', async () => {
    const tag = `t${Date.now()}`;
    const cases = [
      [`d\u0131s.${tag}@example.test`, ambiguousMessage], [`bel\u0007.${tag}@example.test`, controlMessage],
      [`rlo\u202e.${tag}@example.test`, controlMessage], [`zw\u200b.${tag}@example.test`, controlMessage],
    ] as const;
    for (const [email, message] of cases) {
      const agent = new BrowserAgent();
      const page = await submitForm(agent, await openRegister(agent), '/register',
        { email, password: strongPassword() });
      expect(page.status, email).toBe(400);
      expect(fieldError(page.html, 'email'), email).toBe(message);
      expect(await rowsLike(tag)).toBe(0);
    }
    // A NUL byte never reaches the form: the hostile-input edge refuses it first, naming the parameter.
    const agent = new BrowserAgent();
    const nul = await submitForm(agent, await openRegister(agent), '/register',
      { email: `nul\u0000.${tag}@example.test`, password: strongPassword() });
    expect(nul.status).toBe(400);
    expect(nul.html).toContain('parameter &#34;email&#34; contains a NUL byte');
    expect(fieldError(nul.html, 'email')).toBeUndefined();
    expect(await rowsLike(tag)).toBe(0);
    const queued = `SELECT count(*)::int AS n FROM outbox_messages WHERE strpos(payload::text, $1) > 0`;
    expect(await s.t.container.dataSource.query(queued, [tag])).toEqual([{ n: 0 }]);
    const api = await s.t.container.accounts
      .create({ email: 'i\u0307nci@example.test', password: strongPassword() }, 'test')
      .catch((e: unknown) => e);
    expect(api).toMatchObject({
      status: 400,
      code: 'email_ambiguous',
      message: 'email contains a combining mark that makes it ambiguous (U+0307)',
    });
  });

  it('stores the display spelling and the canonical form, and finds the account by either', async () => {
    const email = `Anna.${Date.now()}@Bücher.Example`;
    const created = await s.t.container.accounts.create({ email, password: strongPassword() }, 'test');
    expect(created).toMatchObject({ email, emailCanonical: email.toLowerCase().replace('bücher', 'xn--bcher-kva') });
    expect(
      (await s.t.container.db.repos.accounts.findByEmail(fullwidth(email.split('@')[0]!) + '@xn--bcher-kva.example'))
        ?.id,
    ).toBe(created.id);
    const events = await auditEvents(s.t, created.id);
    expect(events.find((e) => e.type === 'account.created')?.details).toMatchObject({ email: created.emailCanonical });
  });
});
