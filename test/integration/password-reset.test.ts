import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BrowserAgent, type PageResponse } from '../helpers/browser-agent.js';
import {
  alertText, auditEvents, createAccount, createRelyingParty, linkIn, mailTo, messagesTo, normalisePage, signInForTokens,
  signInToAccount, startAccountsServer, strongPassword, submitForm, uniqueEmail, type AccountsServer,
} from '../helpers/accounts-fixtures.js';

const userAgent = 'ResetTest/1.0';
let s: AccountsServer;

beforeAll(async () => {
  s = await startAccountsServer();
});
afterAll(() => s?.close());

async function requestReset(email: string, agent = new BrowserAgent()): Promise<PageResponse> {
  const form = await agent.request(new URL('/forgot-password', s.t.issuer));
  expect(form.status).toBe(200);
  return submitForm(agent, form, '/forgot-password', { email }, { 'user-agent': userAgent });
}

async function resetLink(email: string): Promise<URL> {
  expect((await requestReset(email)).status).toBe(200);
  return linkIn(s.mail, await mailTo(s.mail, email, /Reset your .* password/), '/reset-password');
}

/** Opens the link and submits a new password on its page. */
async function resetWith(link: URL, password: string, agent = new BrowserAgent()) {
  const page = await agent.request(link);
  if (page.status !== 200) return { page, done: page };
  return { page, done: await submitForm(agent, page, '/reset-password', { password }, { 'user-agent': userAgent }) };
}

const signsIn = async (email: string, password: string) => (await s.t.container.accounts.authenticate(email, password, {})) !== undefined;

describe('asking for a reset', () => {
  it('answers the same whether or not the account exists, and emails only an existing one', async () => {
    const user = await createAccount(s.t);
    const unknown = uniqueEmail('nobody');
    const forUnknown = await requestReset(unknown);
    const forKnown = await requestReset(user.email);
    expect(forKnown.status).toBe(200);
    expect(forUnknown.status).toBe(forKnown.status);
    expect(forKnown.html).toContain('valid for 60 minutes');
    expect(normalisePage(forUnknown.html, unknown)).toBe(normalisePage(forKnown.html, user.email));

    const message = await mailTo(s.mail, user.email, /Reset your .* password/);
    expect(linkIn(s.mail, message, '/reset-password').searchParams.get('token')).toMatch(/^[\w-]{43}$/);
    expect(messagesTo(s.mail, unknown)).toEqual([]);
    const [event] = (await auditEvents(s.t, user.id)).filter((e) => e.type === 'password.reset_requested');
    expect(event).toMatchObject({ ip: '127.0.0.1', user_agent: userAgent });
  });

  it('is limited per address: past resetPerAccount it answers 429 with Retry-After', async () => {
    const email = uniqueEmail('flood');
    for (let i = 0; i < 3; i++) expect((await requestReset(email)).status).toBe(200);
    const limited = await requestReset(email);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('refuses a POST without the form token with 403', async () => {
    const user = await createAccount(s.t);
    const forged = await new BrowserAgent().request(new URL('/forgot-password', s.t.issuer), { form: { email: user.email } });
    expect(forged.status).toBe(403);
    expect((await auditEvents(s.t, user.id)).some((e) => e.type === 'password.reset_requested')).toBe(false);
  });
});

describe('the reset link', () => {
  it('applies the password policy, then works exactly once', async () => {
    const user = await createAccount(s.t);
    const link = await resetLink(user.email);
    const agent = new BrowserAgent();
    const weak = await resetWith(link, 'short', agent);
    expect(weak.page.html).toContain(`for ${user.email}`);
    expect(weak.done.status).toBe(400);
    expect(alertText(weak.done.html)).toContain('Use at least 15 characters.');

    const password = strongPassword();
    const { done } = await resetWith(link, password);
    expect(done.status).toBe(200);
    expect(done.html).toContain('Password changed');
    expect(await signsIn(user.email, password)).toBe(true);
    expect(await signsIn(user.email, user.password)).toBe(false);

    // Used: the page is gone and a replayed POST is refused.
    expect((await new BrowserAgent().request(link)).status).toBe(404);
    const replay = await submitForm(agent, weak.page, '/reset-password', { password: strongPassword() });
    expect(replay.status).toBe(404);
    expect(await signsIn(user.email, password)).toBe(true);

    await mailTo(s.mail, user.email, /password was changed/);
    const resets = (await auditEvents(s.t, user.id)).filter((e) => e.type === 'password.reset');
    expect(resets).toHaveLength(1);
    expect(resets[0]).toMatchObject({ ip: '127.0.0.1', user_agent: userAgent });
  });

  it('is voided by a newer link', async () => {
    const user = await createAccount(s.t);
    const first = await resetLink(user.email);
    expect((await requestReset(user.email)).status).toBe(200);
    await s.mail.waitFor(() => messagesTo(s.mail, user.email).length === 2);
    expect((await new BrowserAgent().request(first)).status).toBe(404);
  });
});

describe('a reset ends every session', () => {
  it('revokes refresh tokens and access tokens, and signs every browser out', async () => {
    const user = await createAccount(s.t);
    const { config } = await createRelyingParty(s.t);
    const browser = new BrowserAgent();
    const tokens = await signInForTokens(browser, config, user, { scope: 'openid email offline_access', prompt: 'consent' });
    expect(tokens.refresh_token).toBeTruthy();
    const laptop = new BrowserAgent();
    await signInToAccount(laptop, s.t.issuer, user);
    for (const agent of [browser, laptop]) expect((await agent.request(new URL('/account', s.t.issuer))).status).toBe(200);
    expect((await oidc.tokenIntrospection(config, tokens.access_token)).active).toBe(true);

    const { done } = await resetWith(await resetLink(user.email), strongPassword());
    expect(done.status).toBe(200);

    const refused = await oidc.refreshTokenGrant(config, tokens.refresh_token!).then(() => undefined, (error: unknown) => error as { error?: string });
    expect(refused?.error).toBe('invalid_grant');
    expect((await oidc.tokenIntrospection(config, tokens.access_token)).active).toBe(false);
    for (const agent of [browser, laptop]) {
      const page = await agent.request(new URL('/account', s.t.issuer));
      expect(page.status).toBe(302);
      expect(page.location!.pathname).toBe('/auth');
    }
    await mailTo(s.mail, user.email, /password was changed/);
  });
});
