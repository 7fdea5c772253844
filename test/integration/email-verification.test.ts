import { createHash } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { eventually } from '../helpers/eventually.js';
import { BrowserAgent, formAction, type PageResponse } from '../helpers/browser-agent.js';
import {
  accountRow, alertText, auditEvents, authorizationRequest, createAccount, createRelyingParty, finishAtCallback, linkIn, mailTo,
  messagesTo, normalisePage, openPage, spendLink, startAccountsServer, strongPassword, submitForm, submitLogin, uniqueEmail, userInfo, type AccountsServer,
} from '../helpers/accounts-fixtures.js';

const verificationTtl = 7200;
let s: AccountsServer;

beforeAll(async () => {
  s = await startAccountsServer({ accounts: { verificationTtl } });
});
afterAll(() => s?.close());
afterEach(() => { vi.useRealTimers(); });

/** Registers through the hosted pages of `login` and returns the emailed verification link. */
async function registerFrom(agent: BrowserAgent, login: PageResponse, email: string, password: string): Promise<URL> {
  const form = await agent.request(new URL(`${login.url.pathname}/register`, login.url));
  const done = await submitForm(agent, form, '/register', { email, password }, { 'user-agent': 'VerifyTest/2.0' });
  expect(done.status).toBe(200);
  return linkIn(s.mail, await mailTo(s.mail, email, /Confirm your email address/), '/verify-email');
}

async function registerViaAccountPages(email = uniqueEmail('verify'), password = strongPassword()) {
  const agent = new BrowserAgent();
  const login = await agent.follow(new URL('/account', s.t.issuer));
  const link = await registerFrom(agent, login, email, password);
  return { agent, email, password, link };
}

describe('the verification link', () => {
  it('needs one click after opening (a mail scanner\'s GET spends nothing) and works exactly once', async () => {
    const { email, link } = await registerViaAccountPages();
    const reader = new BrowserAgent();
    expect((await reader.request(link)).status).toBe(200);
    const { page, done } = await spendLink(reader, link);
    expect(page.html).toContain('Confirm my email address');
    expect(done.status).toBe(200);
    expect(done.html).toContain('Email address confirmed');
    const account = await accountRow(s.t, email);
    expect(account.emailVerified).toBe(true);

    const again = await spendLink(new BrowserAgent(), link);
    expect(again.page.status).toBe(404);
    expect(again.page.html).toContain('This link can&#39;t be used');
    // Replaying the POST of the first click is refused too.
    const replay = await submitForm(reader, page, '/verify-email', {});
    expect(replay.status).toBe(404);

    const events = (await auditEvents(s.t, account.id)).filter((event) => event.type === 'email.verified');
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ ip: '127.0.0.1', user_agent: expect.any(String) });
  });

  it('is stored only as a SHA-256 hash', async () => {
    const { email, link } = await registerViaAccountPages();
    const token = link.searchParams.get('token')!;
    const account = await accountRow(s.t, email);
    const rows: Array<{ token_hash: string; row: string }> = await s.t.container.dataSource.query(
      `SELECT token_hash, row_to_json(t)::text AS row FROM account_tokens t WHERE account_id = $1 AND purpose = 'verify_email'`, [account.id]);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.token_hash).toBe(createHash('sha256').update(token).digest('hex'));
    expect(rows[0]!.row).not.toContain(token);
  });

  it('expires after accounts.verificationTtl', async () => {
    const { email, link } = await registerViaAccountPages();
    const account = await accountRow(s.t, email);
    const [row] = await s.t.container.dataSource.query(
      `SELECT extract(epoch FROM expires_at - created_at)::int AS ttl FROM account_tokens WHERE account_id = $1`, [account.id]) as Array<{ ttl: number }>;
    expect(row!.ttl).toBeGreaterThanOrEqual(verificationTtl - 1);
    expect(row!.ttl).toBeLessThanOrEqual(verificationTtl + 1);

    const agent = new BrowserAgent();
    const page = await agent.request(link);
    expect(page.status).toBe(200);
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + (verificationTtl + 5) * 1000);
    expect((await agent.request(link)).status).toBe(404);
    expect((await submitForm(agent, page, '/verify-email', {})).status).toBe(404);
    vi.useRealTimers();
    expect((await accountRow(s.t, email)).emailVerified).toBe(false);
  });

  it('rejects a forged or malformed token with the same page', async () => {
    const forged = await new BrowserAgent().request(new URL('/verify-email?token=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', s.t.issuer));
    const malformed = await new BrowserAgent().request(new URL('/verify-email?token=%3Cscript%3E', s.t.issuer));
    expect(forged.status).toBe(404);
    expect(malformed.status).toBe(404);
    expect(normalisePage(malformed.html)).toBe(normalisePage(forged.html));
  });
});

describe('verifying inside a sign-in', () => {
  it('continues the sign-in it came from, and email_verified turns true', async () => {
    const { config } = await createRelyingParty(s.t);
    const agent = new BrowserAgent();
    const email = uniqueEmail('continue');
    const password = strongPassword();
    const request = await authorizationRequest(config);
    const login = await openPage(agent, request.url);
    const link = await registerFrom(agent, login, email, password);

    // Not verified yet: the password is right, but the client needs a verified address.
    const blocked = await submitLogin(agent, login, { email, password });
    expect(blocked.status).toBe(403);
    expect(blocked.html).toContain('Confirm your email address');

    const { done } = await spendLink(agent, link);
    const continueHref = /<a class="button" href="([^"]+)"/.exec(done.html)?.[1];
    expect(continueHref).toBe(login.url.pathname);
    const again = await agent.request(new URL(continueHref!, s.t.issuer));
    expect(formAction(again.html, '/login')).toBeDefined();
    const tokens = await request.redeem(await finishAtCallback(agent, await submitLogin(agent, again, { email, password })));
    expect(await userInfo(config, tokens)).toMatchObject({ email, email_verified: true });
  });
});

describe('resending the link', () => {
  /** Signs in with an unverified account: the page that offers to resend. */
  async function unverifiedPage(agent: BrowserAgent, email: string, password: string) {
    const login = await agent.follow(new URL('/account', s.t.issuer));
    const page = await submitLogin(agent, login, { email, password });
    expect(page.status).toBe(403);
    expect(formAction(page.html, '/resend')).toBeDefined();
    return page;
  }

  it('sends a fresh link that replaces the old one, and audits it', async () => {
    const { agent, email, password, link: first } = await registerViaAccountPages();
    const page = await unverifiedPage(agent, email, password);
    const sent = await submitForm(agent, page, '/resend', {});
    expect(sent.status).toBe(200);
    expect(sent.html).toContain('a new link is on its way');
    const second = await s.mail.waitFor((m) => messagesTo(s.mail, email).includes(m) && linkIn(s.mail, m, '/verify-email').href !== first.href);
    const link = linkIn(s.mail, second, '/verify-email');

    expect((await spendLink(new BrowserAgent(), first)).page.status).toBe(404);
    expect((await spendLink(new BrowserAgent(), link)).done.html).toContain('Email address confirmed');
    const account = await accountRow(s.t, email);
    expect(account.emailVerified).toBe(true);
    const verifyMails = (rows: Array<{ type: string; details: Record<string, unknown> }>, type: string) =>
      rows.filter((event) => event.type === type && event.details.template === 'verify-email');
    const events = await eventually(
      () => auditEvents(s.t, account.id),
      (rows) => verifyMails(rows, 'email.delivered').length === 2,
    );
    expect(verifyMails(events, 'email.queued')).toHaveLength(2);
  });

  it('is limited per address: past resendPerAccount it answers 429 with Retry-After', async () => {
    const { agent, email, password } = await registerViaAccountPages();
    const page = await unverifiedPage(agent, email, password);
    for (let i = 0; i < 3; i++) expect((await submitForm(agent, page, '/resend', {})).status).toBe(200);
    const limited = await submitForm(agent, page, '/resend', {});
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(alertText(limited.html)).toBe('Too many attempts. Wait a while and try again.');
    // 1 at registration + 3 resends.
    await s.mail.waitFor(() => messagesTo(s.mail, email).length === 4);
  });

  it('answers the same for an address that is already verified, and sends nothing to it', async () => {
    const verified = await createAccount(s.t, { verified: true });
    const { agent, email, password } = await registerViaAccountPages();
    const page = await unverifiedPage(agent, email, password);
    const own = await submitForm(agent, page, '/resend', {});
    const other = await submitForm(agent, page, '/resend', { email: verified.email });
    expect(other.status).toBe(own.status);
    expect(normalisePage(other.html)).toBe(normalisePage(own.html));
    await s.mail.waitFor(() => messagesTo(s.mail, email).length === 2);
    expect(messagesTo(s.mail, verified.email)).toEqual([]);
  });
});
