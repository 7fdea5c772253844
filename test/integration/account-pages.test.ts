import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BrowserAgent, formValue, type PageResponse } from '../helpers/browser-agent.js';
import {
  accountRow, alertText, auditEvents, createAccount, createRelyingParty, expectSentToSignIn, fieldError, linkIn, mailTo, messagesTo, signInForTokens,
  signInToAccount, spendLink, startAccountsServer, strongPassword, submitForm, uniqueEmail, userInfo, type AccountsServer,
} from '../helpers/accounts-fixtures.js';

let s: AccountsServer;

beforeAll(async () => {
  s = await startAccountsServer();
});
afterAll(() => s?.close());

const at = (path: string) => new URL(path, s.t.issuer);

/** A signed-in browser on the page `path`. */
async function signedIn(user: { email: string; password: string }, path = '/account') {
  const agent = new BrowserAgent();
  const page = await signInToAccount(agent, s.t.issuer, user, path);
  expect(page.status).toBe(200);
  return { agent, page };
}

const isSignedIn = async (agent: BrowserAgent) => (await agent.request(at('/account'))).status === 200;

describe('/account', () => {
  it('sends an anonymous visitor to sign in, then back to the page asked for', async () => {
    const user = await createAccount(s.t);
    const agent = new BrowserAgent();
    const first = await agent.request(at('/account/password'));
    expectSentToSignIn(first);
    const page = await signInToAccount(agent, s.t.issuer, user, '/account/password');
    expect(page.url.pathname).toBe('/account/password');
    expect(page.html).toContain('Change password');
    expect(page.headers.get('cache-control')).toBe('no-store');
  });

  it('refuses a form POST without a session with 401', async () => {
    const agent = new BrowserAgent();
    const page = await agent.request(at('/forgot-password'));
    const response = await agent.request(at('/account/profile'), { form: { csrf: formValue(page.html, 'csrf')!, name: 'Mallory' } });
    expect(response.status).toBe(401);
  });

  it('updates the profile name and audits it', async () => {
    const user = await createAccount(s.t, { name: 'Ada' });
    const { agent, page } = await signedIn(user);
    expect(page.html).toContain('value="Ada"');
    const saved = await submitForm(agent, page, '/account/profile', { name: 'Ada King' });
    expect(saved.status).toBe(200);
    expect(saved.html).toContain('Your profile was saved.');
    expect(saved.html).toContain('value="Ada King"');
    expect((await accountRow(s.t, user.email)).name).toBe('Ada King');
    const [event] = (await auditEvents(s.t, user.id)).filter((e) => e.type === 'account.profile_updated');
    expect(event).toMatchObject({ ip: '127.0.0.1', details: { before: { name: 'Ada' }, after: { name: 'Ada King' } } });
  });
});

describe('changing the password', () => {
  it('requires the current password, applies the policy, and emails a notice', async () => {
    const user = await createAccount(s.t);
    const { agent, page } = await signedIn(user, '/account/password');
    const wrong = await submitForm(agent, page, '/account/password', { current: strongPassword(), password: strongPassword() });
    expect(wrong.status).toBe(400);
    expect(fieldError(wrong.html, 'current')).toBe('The current password is incorrect.');
    const weak = await submitForm(agent, page, '/account/password', { current: user.password, password: 'tooshort' });
    expect(weak.status).toBe(400);
    expect(fieldError(weak.html, 'password')).toContain('Use at least 15 characters.');
    expect(await s.t.container.accounts.authenticate(user.email, user.password, {})).toBeDefined();

    const password = strongPassword();
    const changed = await submitForm(agent, page, '/account/password', { current: user.password, password });
    expect(changed.status).toBe(200);
    expect(changed.html).toContain('Your password was changed.');
    expect(await s.t.container.accounts.authenticate(user.email, password, {})).toBeDefined();
    await mailTo(s.mail, user.email, /password was changed/);
    const [event] = (await auditEvents(s.t, user.id)).filter((e) => e.type === 'password.changed');
    expect(event).toMatchObject({ ip: '127.0.0.1', user_agent: expect.any(String) });
  });

  it('offers to sign out every other session, and keeps this one', async () => {
    const user = await createAccount(s.t);
    const { agent, page } = await signedIn(user, '/account/password');
    expect(page.html).toMatch(/name="signOutOthers" value="on" checked/);
    const { config } = await createRelyingParty(s.t);
    const other = await signedIn(user);
    const app = new BrowserAgent();
    const tokens = await signInForTokens(app, config, user, { scope: 'openid offline_access', prompt: 'consent' });

    // Unticked: the others stay signed in, but every refresh token issued before the change is revoked.
    const password = strongPassword();
    expect((await submitForm(agent, page, '/account/password', { current: user.password, password })).status).toBe(200);
    expect(await isSignedIn(other.agent)).toBe(true);
    const revoked = await oidc.refreshTokenGrant(config, tokens.refresh_token!).then(() => undefined, (error: unknown) => error as { error?: string });
    expect(revoked?.error).toBe('invalid_grant');

    const next = strongPassword();
    const done = await submitForm(agent, page, '/account/password', { current: password, password: next, signOutOthers: 'on' });
    expect(done.status).toBe(200);
    expect(await isSignedIn(agent)).toBe(true);
    expect(await isSignedIn(other.agent)).toBe(false);
    expect(await isSignedIn(app)).toBe(false);
    const refused = await oidc.refreshTokenGrant(config, tokens.refresh_token!).then(() => undefined, (error: unknown) => error as { error?: string });
    expect(refused?.error).toBe('invalid_grant');
  });
});

describe('changing the email address', () => {
  it('needs the current password and takes effect only once the new address is confirmed', async () => {
    const user = await createAccount(s.t);
    const newEmail = uniqueEmail('moved');
    const { agent, page } = await signedIn(user, '/account/email');
    const wrong = await submitForm(agent, page, '/account/email', { email: newEmail, password: strongPassword() });
    expect(wrong.status).toBe(400);
    expect(fieldError(wrong.html, 'password')).toBe('The current password is incorrect.');
    const same = await submitForm(agent, page, '/account/email', { email: user.email.toUpperCase(), password: user.password });
    expect(fieldError(same.html, 'email')).toBe('That is already your email address.');

    const asked = await submitForm(agent, page, '/account/email', { email: newEmail, password: user.password }, { 'user-agent': 'EmailChange/1.0' });
    expect(asked.status).toBe(200);
    expect(asked.html).toContain(`Check ${newEmail} for a confirmation link`);
    expect((await accountRow(s.t, user.email)).email).toBe(user.email);

    const link = linkIn(s.mail, await mailTo(s.mail, newEmail, /Confirm your new email address/), '/account/email/confirm');
    const { done } = await spendLink(new BrowserAgent(), link);
    expect(done.status).toBe(200);
    const account = await s.t.container.db.repos.accounts.findById(user.id);
    expect(account).toMatchObject({ email: newEmail, emailVerified: true });
    expect((await spendLink(new BrowserAgent(), link)).page.status).toBe(404);

    const notice = await mailTo(s.mail, user.email, /email address of your .* account was changed/);
    expect(notice.text).toContain(newEmail);
    const events = await auditEvents(s.t, user.id);
    expect(events.find((e) => e.type === 'email.change_requested')).toMatchObject({ user_agent: 'EmailChange/1.0', details: { newEmail } });
    expect(events.find((e) => e.type === 'email.changed')!.details).toEqual({ before: user.email, after: newEmail });

    const { config } = await createRelyingParty(s.t);
    const tokens = await signInForTokens(new BrowserAgent(), config, { email: newEmail, password: user.password });
    expect(await userInfo(config, tokens)).toMatchObject({ sub: user.id, email: newEmail, email_verified: true });
    expect(await s.t.container.accounts.authenticate(user.email, user.password, {})).toBeUndefined();
  });

  it('answers an address that has an account like any other, and tells its owner instead', async () => {
    const user = await createAccount(s.t);
    const owner = await createAccount(s.t);
    const { agent, page } = await signedIn(user, '/account/email');
    const asked = await submitForm(agent, page, '/account/email', { email: owner.email, password: user.password });
    expect(asked.status).toBe(200);
    expect(asked.html).toContain(`Check ${owner.email} for a confirmation link`);
    await mailTo(s.mail, owner.email, /You already have an account/);
    expect(messagesTo(s.mail, owner.email).some((m) => /Confirm your new email address/.test(m.subject ?? ''))).toBe(false);
    expect((await accountRow(s.t, user.email)).id).toBe(user.id);
  });
});

describe('CSRF on every form', () => {
  it('answers 403 to a POST without the token, or with another browser\'s token', async () => {
    const user = await createAccount(s.t);
    const { agent } = await signedIn(user);
    const stranger = new BrowserAgent();
    const strangerToken = formValue((await stranger.request(at('/forgot-password'))).html, 'csrf')!;

    const forms: Array<[string, Record<string, string>]> = [
      ['/account/profile', { name: 'Mallory' }],
      ['/account/password', { current: user.password, password: strongPassword(), signOutOthers: 'on' }],
      ['/account/email', { email: uniqueEmail('evil'), password: user.password }],
      ['/account/email/confirm', { token: 'A'.repeat(43) }],
      ['/forgot-password', { email: user.email }],
      ['/reset-password', { token: 'A'.repeat(43), password: strongPassword() }],
      ['/verify-email', { token: 'A'.repeat(43) }],
      ['/unlock', { token: 'A'.repeat(43) }],
    ];
    const check = async (client: BrowserAgent, path: string, fields: Record<string, string>) => {
      for (const csrf of [undefined, strangerToken]) {
        const response: PageResponse = await client.request(at(path), { form: { ...fields, ...(csrf ? { csrf } : {}) } });
        expect(response.status, `${path} with ${csrf ? 'a foreign' : 'no'} token`).toBe(403);
        expect(alertText(response.html)).toMatch(/form expired or was sent from another site/);
      }
    };
    for (const [path, fields] of forms) await check(agent, path, fields);
    const interaction = new BrowserAgent();
    const page = await interaction.follow(at('/account'));
    for (const [step, fields] of [['/login', user], ['/register', { email: uniqueEmail('x'), password: strongPassword() }], ['/resend', { email: user.email }]] as const) {
      await check(interaction, `${page.url.pathname}${step}`, { ...fields });
    }
    expect(page.url.pathname).toMatch(/^\/interaction\//);
    expect((await accountRow(s.t, user.email)).name).toBeNull();
  });
});
