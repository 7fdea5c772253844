/**
 * The MFA policy at every way into a session, as a relying party sees it through openid-client:
 * SMS and email codes at sign-in (amr), the five-guess limit, "trust this device" and its limits,
 * password resets that must pass the second factor, the admin CLI (reset-mfa, require-mfa),
 * passkeys over the JSON endpoints (passwordless and as a second factor), and the audit trail.
 *
 * The server runs in this process with Date faked (and still ticking): a test that needs a later
 * TOTP step or the end of a resend gap moves the clock forward instead of sleeping.
 */
import { randomBytes } from 'node:crypto';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runCli } from '../../src/cli/index.js';
import { BrowserAgent, formAction, formValue, type PageResponse } from '../helpers/browser-agent.js';
import {
  accountRow, alertText, auditEvents, authorizationRequest, createAccount, createRelyingParty, emailedCode,
  finishAtCallback, linkIn, mailTo, messagesTo, openPage, passkeyCsrf, postJson, recoveryCodesOn, startAccountsServer,
  startSmsWebhook, strongPassword, submitForm, submitLogin, totpCode, totpKeyOn, uniqueEmail, uniquePhone,
  type AccountsServer, type SmsWebhook, advanceClock, nextTotp,
} from '../helpers/accounts-fixtures.js';
import { SoftAuthenticator } from '../helpers/soft-authenticator.js';

const smsSecret = randomBytes(24).toString('hex');
const mfaAcr = 'urn:portcullis:acr:mfa';
const context = { locale: 'en' as const };
let s: AccountsServer;
let sms: SmsWebhook;
let rp: Awaited<ReturnType<typeof createRelyingParty>>;

beforeAll(async () => {
  vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true });
  sms = await startSmsWebhook(smsSecret);
  s = await startAccountsServer({
    sms: { provider: 'webhook', url: sms.url, secret: smsSecret },
    mfa: { requiredRoles: ['admin'] },
    // Every request in this file comes from 127.0.0.1; the per-IP limits have their own tests.
    rateLimits: { loginPerIp: { points: 1000, durationSeconds: 60 }, resetPerIp: { points: 1000, durationSeconds: 3600 } },
  });
  rp = await createRelyingParty(s.t);
});
afterAll(async () => {
  await s?.close();
  await sms?.close();
  vi.useRealTimers();
});

const at = (path: string) => new URL(path, s.t.issuer);
const advance = advanceClock;

type User = { id: string; email: string; password: string };

async function newUser(options: { roles?: string[] } = {}): Promise<User> {
  if (!options.roles) return createAccount(s.t);
  const email = uniqueEmail('admin');
  const password = strongPassword();
  const account = await s.t.container.accounts.create({ email, password, verified: true, roles: options.roles }, 'test');
  return { id: account.id, email, password };
}

/** Enrols an authenticator app directly; returns its seed and the recovery codes. */
async function withTotp(user: User) {
  const enrolment = await s.t.container.mfa.startTotp(user.id, user.email);
  const { recoveryCodes } = await s.t.container.mfa.confirmTotp(user.id, enrolment.factorId, await totpCode(enrolment.secret), context);
  return { secret: enrolment.secret, factorId: enrolment.factorId, recoveryCodes: recoveryCodes! };
}

/** Enrols SMS codes with the code the webhook received, then lets the resend gap pass. */
async function withSms(user: User) {
  const phone = uniquePhone();
  const { factorId } = await s.t.container.otp.enrolSms(user.id, phone, context);
  await s.t.container.otp.confirm(user.id, factorId, await sms.nextCode(phone), context);
  advance(31);
  return { phone, factorId };
}

/** Enrols email codes with the code from the SMTP receiver, then lets the resend gap pass. */
async function withEmailCodes(user: User) {
  const { factorId } = await s.t.container.otp.enrolEmail(user.id, context);
  await s.t.container.otp.confirm(user.id, factorId, await emailedCode(s.mail, user.email), context);
  advance(31);
  return { factorId };
}

/** Registers a passkey or security key directly, as the security page would. */
async function withAuthenticator(user: User, authenticator: SoftAuthenticator, name: string) {
  const { options, handle } = await s.t.container.webauthn.registrationOptions(user, []);
  return s.t.container.webauthn.finishRegistration(user.id, handle, authenticator.createCredential(options), name, context);
}

/** Opens an authorization request at the relying party and posts the password; returns the next page. */
async function passwordStep(agent: BrowserAgent, user: User, params: Record<string, string> = {}) {
  const request = await authorizationRequest(rp.config, params);
  const login = await openPage(agent, request.url);
  expect(formAction(login.html, '/login'), login.html.slice(0, 300)).toBeDefined();
  return { request, login, page: await submitLogin(agent, login, user) };
}

const isChallenge = (page: PageResponse) => /action="\/interaction\/[\w-]+\/mfa"/.test(page.html);
const uidOf = (page: PageResponse) => /\/interaction\/([\w-]+)\//.exec(page.html)![1]!;

/** Posts the challenge form (/interaction/:uid/mfa) with the page's CSRF token. */
function answerChallenge(agent: BrowserAgent, page: PageResponse, fields: Record<string, string>) {
  return agent.request(at(`/interaction/${uidOf(page)}/mfa`), { form: { csrf: formValue(page.html, 'csrf')!, ...fields } });
}

/** Follows a sign-in that finished (a redirect, or a passkey's { redirect }) to the callback, approving consent. */
async function callbackFrom(agent: BrowserAgent, location: URL): Promise<URL> {
  return finishAtCallback(agent, { status: 303, location, url: location, html: '', headers: new Headers() });
}

const claimsOf = (tokens: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers) => tokens.claims()!;
const eventsOf = async (user: User, prefix = 'mfa.') => (await auditEvents(s.t, user.id)).filter((event) => event.type.startsWith(prefix));

describe('one-time codes at sign-in', () => {
  it('texts a code through the webhook, throttles a resend, and signs in with amr sms + mfa', async () => {
    const user = await newUser();
    const { phone, factorId } = await withSms(user);
    const agent = new BrowserAgent();
    const { request, page } = await passwordStep(agent, user);
    expect(isChallenge(page)).toBe(true);
    expect(page.html).toContain(`Text me a code (SMS ${phone.slice(0, 3)}`);

    const sent = await submitForm(agent, page, '/mfa/send', {});
    expect(sent.status).toBe(200);
    expect(sent.html).toContain('We sent a 6-digit code to');
    expect(formValue(sent.html, 'factorId')).toBe(factorId);
    const code = await sms.nextCode(phone);
    const resend = await submitForm(agent, page, '/mfa/send', {});
    expect(resend.status).toBe(429);
    expect(Number(resend.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(sms.lastCode(phone)).toBe(code);

    const posted = await answerChallenge(agent, sent, { method: 'otp', factorId, code });
    const tokens = await request.redeem(await callbackFrom(agent, posted.location!));
    expect(claimsOf(tokens).amr).toEqual(['pwd', 'sms', 'mfa']);
    expect(claimsOf(tokens).acr).toBe(mfaAcr);
    expect(sms.refused).toBe(0);
    const events = await eventsOf(user);
    expect(events.filter((e) => e.type === 'mfa.code_issued')).toHaveLength(2);
    expect(events.at(-1)).toMatchObject({ type: 'mfa.challenge_passed', ip: '127.0.0.1', client_id: rp.clientId, details: { factorId, factorType: 'sms' } });
  });

  it('emails a code and signs in with amr otp + mfa', async () => {
    const user = await newUser();
    const { factorId } = await withEmailCodes(user);
    const agent = new BrowserAgent();
    const { request, page } = await passwordStep(agent, user);
    expect(page.html).toContain('Email me a code (Email)');
    const sent = await submitForm(agent, page, '/mfa/send', {});
    const posted = await answerChallenge(agent, sent, { method: 'otp', factorId, code: await emailedCode(s.mail, user.email) });
    const tokens = await request.redeem(await callbackFrom(agent, posted.location!));
    expect(claimsOf(tokens).amr).toEqual(['pwd', 'otp', 'mfa']);
    expect(claimsOf(tokens).acr).toBe(mfaAcr);
    const [factor] = await s.t.container.mfa.listFactors(user.id);
    expect(factor!.lastUsedAt).toBeInstanceOf(Date);
  });

  it('kills a code after five wrong guesses: the right one is then refused; a new code works', async () => {
    const user = await newUser();
    const { phone, factorId } = await withSms(user);
    const agent = new BrowserAgent();
    const { request, page } = await passwordStep(agent, user);
    const sent = await submitForm(agent, page, '/mfa/send', {});
    const code = await sms.nextCode(phone);
    const wrong = String((Number(code) + 1) % 1_000_000).padStart(6, '0');
    for (let attempt = 0; attempt < 5; attempt++) {
      const refused = await answerChallenge(agent, sent, { method: 'otp', factorId, code: wrong });
      expect(refused.status).toBe(400);
      expect(alertText(refused.html)).toBe('That code is not valid. Try the current code.');
    }
    const dead = await answerChallenge(agent, sent, { method: 'otp', factorId, code });
    expect(dead.status).toBe(400);
    expect(isChallenge(dead)).toBe(true);
    const failures = (await eventsOf(user)).filter((e) => e.type === 'mfa.challenge_failed').map((e) => e.details.reason);
    expect(failures).toEqual(['mismatched', 'mismatched', 'mismatched', 'mismatched', 'mismatched', 'unavailable']);

    advance(31);
    const again = await submitForm(agent, dead, '/mfa/send', {});
    expect(again.status).toBe(200);
    const posted = await answerChallenge(agent, again, { method: 'otp', factorId, code: await sms.nextCode(phone) });
    expect(claimsOf(await request.redeem(await callbackFrom(agent, posted.location!))).amr).toEqual(['pwd', 'sms', 'mfa']);
  });
});

describe('trust this device', () => {
  it('skips the second factor at the next sign-in on that browser only, never for a step-up', async () => {
    const user = await newUser();
    const { secret } = await withTotp(user);
    const agent = new BrowserAgent();
    const first = await passwordStep(agent, user);
    expect(first.page.html).toContain('Don&#39;t ask again on this device for 30 days');
    const trusted = await answerChallenge(agent, first.page, { method: 'totp', code: await nextTotp(secret), trust: 'on' });
    const cookie = trusted.headers.getSetCookie().find((line) => line.startsWith('pcl.trust.'));
    expect(cookie).toMatch(/httponly/i);
    // Bound to the account (and its current epoch), for 30 days.
    expect(cookie).toContain(`=${user.id}.0.`);
    const expires = new Date(/expires=([^;]+)/i.exec(cookie!)![1]!).getTime();
    expect(Math.abs(expires - (Date.now() + 30 * 86_400_000))).toBeLessThan(60_000);
    expect(claimsOf(await first.request.redeem(await callbackFrom(agent, trusted.location!))).amr).toEqual(['pwd', 'otp', 'mfa']);

    // A fresh sign-in (prompt=login) on this browser: the password alone finishes it.
    const next = await passwordStep(agent, user, { prompt: 'login' });
    expect(next.page.status).toBe(303);
    const skipped = claimsOf(await next.request.redeem(await callbackFrom(agent, next.page.location!)));
    expect(skipped.amr).toEqual(['pwd', 'mfa']);

    // Another browser has no such pass.
    expect(isChallenge((await passwordStep(new BrowserAgent(), user)).page)).toBe(true);

    // A client asking for a second factor (acr_values) gets a real one, even on a trusted device…
    const fresh = await passwordStep(agent, user, { prompt: 'login', acr_values: mfaAcr });
    expect(isChallenge(fresh.page)).toBe(true);
    // …and also when it asks on the session the trusted sign-in created.
    const stepUp = await authorizationRequest(rp.config, { acr_values: mfaAcr });
    const challenge = await openPage(agent, stepUp.url);
    expect(formAction(challenge.html, '/login')).toBeUndefined();
    expect(isChallenge(challenge)).toBe(true);
    const passed = await answerChallenge(agent, challenge, { method: 'totp', code: await nextTotp(secret) });
    const stepped = claimsOf(await stepUp.redeem(await callbackFrom(agent, passed.location!)));
    expect(stepped.acr).toBe(mfaAcr);
    expect(stepped.amr).toEqual(['pwd', 'mfa', 'otp']);
    expect((await eventsOf(user)).at(-1)).toMatchObject({ type: 'mfa.step_up', details: { amr: ['otp'] } });
  });

  it('is voided by a password reset (the account\'s trusted-device epoch moves on)', async () => {
    const user = await newUser();
    const { secret } = await withTotp(user);
    const agent = new BrowserAgent();
    const first = await passwordStep(agent, user);
    await callbackFrom(agent, (await answerChallenge(agent, first.page, { method: 'totp', code: await nextTotp(secret), trust: 'on' })).location!);
    expect((await passwordStep(agent, user, { prompt: 'login' })).page.status).toBe(303);
    const epoch = (await accountRow(s.t, user.email)).trustedDeviceEpoch;

    const password = strongPassword();
    const { page: reset } = await openResetLink(user.email, agent);
    const done = await submitForm(agent, reset, '/reset-password', { password, code: await nextTotp(secret) });
    expect(done.status).toBe(200);
    expect(done.html).toContain('Password changed');
    expect((await accountRow(s.t, user.email)).trustedDeviceEpoch).toBe(epoch + 1);

    // The cookie is still in the browser, but no longer names a live epoch: the code is asked again.
    expect(agent.cookieNames().some((name) => name.startsWith('pcl.trust.'))).toBe(true);
    const after = await passwordStep(agent, { ...user, password });
    expect(isChallenge(after.page)).toBe(true);
  });
});

describe('step-up', () => {
  it('asks a signed-in person only for the second factor, but for the password too when the client wants a fresh sign-in (prompt=login)', async () => {
    const user = await newUser();
    const agent = new BrowserAgent();
    const first = await passwordStep(agent, user);
    expect(claimsOf(await first.request.redeem(await finishAtCallback(agent, first.page))).amr).toEqual(['pwd']);
    const { secret } = await withTotp(user);

    const reauthenticate = await authorizationRequest(rp.config, { prompt: 'login', acr_values: mfaAcr });
    const login = await openPage(agent, reauthenticate.url);
    expect(formAction(login.html, '/login'), 'prompt=login asks for the password').toBeDefined();
    expect(isChallenge(login)).toBe(false);
    const challenge = await submitLogin(agent, login, user);
    expect(isChallenge(challenge)).toBe(true);
    const posted = await answerChallenge(agent, challenge, { method: 'totp', code: await nextTotp(secret) });
    expect(claimsOf(await reauthenticate.redeem(await callbackFrom(agent, posted.location!)))).toMatchObject({ amr: ['pwd', 'otp', 'mfa'], acr: mfaAcr });
  });
});

/** Asks for a reset link by email and opens it in `agent` (a browser of its own by default). */
async function openResetLink(email: string, agent = new BrowserAgent()) {
  const before = messagesTo(s.mail, email).length;
  const form = await agent.request(at('/forgot-password'));
  expect((await submitForm(agent, form, '/forgot-password', { email })).status).toBe(200);
  const message = await s.mail.waitFor((m) => messagesTo(s.mail, email).indexOf(m) >= before && /Reset your/.test(m.subject ?? ''));
  const link = linkIn(s.mail, message, '/reset-password');
  const page = await agent.request(link);
  expect(page.status).toBe(200);
  return { agent, page, link };
}

const passwordWorks = async (email: string, password: string) => (await s.t.container.accounts.authenticate(email, password, {})) !== undefined;

describe('a password reset never bypasses the second factor', () => {
  it('asks for the code; refuses none or a wrong one without spending the link; accepts a TOTP code', async () => {
    const user = await newUser();
    const { secret } = await withTotp(user);
    const { agent, page, link } = await openResetLink(user.email);
    expect(page.html).toContain('Code from your authenticator app, or a recovery code');
    expect(page.html).toMatch(/name="code"/);
    const password = strongPassword();

    const missing = await submitForm(agent, page, '/reset-password', { password });
    expect(missing.status).toBe(400);
    expect(alertText(missing.html)).toBe('Enter a code from your authenticator app or a recovery code.');
    const wrong = await submitForm(agent, missing, '/reset-password', { password, code: '000000' });
    expect(wrong.status).toBe(400);
    expect(alertText(wrong.html)).toBe('That code is not valid. Try the current code.');
    // Neither spent the link nor changed the password.
    expect(await passwordWorks(user.email, user.password)).toBe(true);
    expect((await new BrowserAgent().request(link)).status).toBe(200);

    const done = await submitForm(agent, wrong, '/reset-password', { password, code: await nextTotp(secret) });
    expect(done.status).toBe(200);
    expect(done.html).toContain('Password changed');
    expect(await passwordWorks(user.email, password)).toBe(true);
    expect((await new BrowserAgent().request(link)).status).toBe(404);
    const types = (await eventsOf(user, '')).map((e) => e.type).filter((type) => /^(mfa|password)\./.test(type));
    expect(types).toEqual(['mfa.enrolled', 'password.reset_requested', 'mfa.challenge_failed', 'mfa.challenge_passed', 'password.reset']);
  });

  it('accepts a recovery code instead, once, and emails a notice', async () => {
    const user = await newUser();
    const { recoveryCodes } = await withTotp(user);
    const first = await openResetLink(user.email);
    const password = strongPassword();
    const done = await submitForm(first.agent, first.page, '/reset-password', { password, code: recoveryCodes[3]! });
    expect(done.status).toBe(200);
    expect(await passwordWorks(user.email, password)).toBe(true);
    expect(await s.t.container.mfa.remainingRecoveryCodes(user.id)).toBe(9);
    expect((await mailTo(s.mail, user.email, /recovery code was used/)).text).toContain('You have 9 recovery codes left.');
    expect((await eventsOf(user)).map((e) => e.type)).toContain('mfa.recovery_code_used');

    const second = await openResetLink(user.email);
    const refused = await submitForm(second.agent, second.page, '/reset-password', { password: strongPassword(), code: recoveryCodes[3]! });
    expect(refused.status).toBe(400);
    expect(await passwordWorks(user.email, password)).toBe(true);
  });
});

/** Runs the CLI in-process against this server's database; returns its --json output. */
async function cli(argv: string[]): Promise<Record<string, unknown>> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli([...argv, '--json'], { env: s.t.env, write: (text) => out.push(text), writeError: (text) => err.push(text) });
  expect(code, err.join('\n')).toBe(0);
  return JSON.parse(out.join('\n')) as Record<string, unknown>;
}

/** Finishes an enrolment during sign-in: key from the page, a code, the recovery codes page. */
async function enrolDuringSignIn(agent: BrowserAgent, page: PageResponse) {
  expect(page.html).toContain('data:image/png;base64,');
  const secret = totpKeyOn(page.html);
  const codes = await submitForm(agent, page, '/mfa/enrol', { code: await nextTotp(secret) });
  expect(codes.status).toBe(200);
  expect(recoveryCodesOn(codes.html)).toHaveLength(10);
  return { secret, done: await submitForm(agent, codes, '/mfa/done', {}) };
}

describe('admin commands', () => {
  it('users reset-mfa removes the factors, ends the sessions and refresh tokens, and the next sign-in enrols again', async () => {
    const user = await newUser();
    await s.t.container.accounts.setMfaRequired(user.email, true, 'test');
    const { secret } = await withTotp(user);
    const agent = new BrowserAgent();
    const { request, page } = await passwordStep(agent, user, { scope: 'openid offline_access', prompt: 'consent' });
    const posted = await answerChallenge(agent, page, { method: 'totp', code: await nextTotp(secret) });
    const tokens = await request.redeem(await callbackFrom(agent, posted.location!));
    expect(tokens.refresh_token).toBeTruthy();

    const epoch = (await accountRow(s.t, user.email)).trustedDeviceEpoch;
    expect(await cli(['users', 'reset-mfa', user.email])).toEqual({ id: user.id, email: user.email, factors_removed: 1 });
    expect((await accountRow(s.t, user.email)).trustedDeviceEpoch).toBe(epoch + 1);
    expect(await s.t.container.mfa.listFactors(user.id)).toEqual([]);
    expect(await s.t.container.mfa.remainingRecoveryCodes(user.id)).toBe(0);
    const refused = await oidc.refreshTokenGrant(rp.config, tokens.refresh_token!).then(() => undefined, (error: unknown) => error as { error?: string });
    expect(refused?.error).toBe('invalid_grant');
    const [reset] = await s.t.container.audit.listForAccount(user.id, { limit: 1 });
    expect(reset).toMatchObject({ type: 'mfa.reset', actor: 'cli', details: { factorsRemoved: 1 } });

    // The browser's session is gone too: the next authorization asks for the password, then an enrolment.
    const again = await passwordStep(agent, user);
    expect(formAction(again.page.html, '/mfa/enrol')).toBeDefined();
    const { done } = await enrolDuringSignIn(agent, again.page);
    const claims = claimsOf(await again.request.redeem(await callbackFrom(agent, done.location!)));
    expect(claims.amr).toEqual(['pwd', 'otp', 'mfa']);
    expect(claims.acr).toBe(mfaAcr);
    expect((await eventsOf(user)).map((e) => e.type).slice(-2)).toEqual(['mfa.reset', 'mfa.enrolled']);
  });

  it('users require-mfa makes the next sign-in enrol; --off lets the password alone through again', async () => {
    const user = await newUser();
    expect(await cli(['users', 'require-mfa', user.email])).toMatchObject({ email: user.email, mfa_required: true });
    const enrol = await passwordStep(new BrowserAgent(), user);
    expect(formAction(enrol.page.html, '/mfa/enrol')).toBeDefined();

    expect(await cli(['users', 'require-mfa', user.email, '--off'])).toMatchObject({ email: user.email, mfa_required: false });
    const agent = new BrowserAgent();
    const { request, page } = await passwordStep(agent, user);
    const claims = claimsOf(await request.redeem(await finishAtCallback(agent, page)));
    expect(claims.amr).toEqual(['pwd']);
    expect(claims.acr).toBe('urn:portcullis:acr:pwd');
    expect((await eventsOf(user, 'account.mfa')).map((e) => e.details)).toEqual([{ before: false, after: true }, { before: true, after: false }]);
  });
});

describe('a role in mfa.requiredRoles', () => {
  it('makes its members enrol, and no out-of-order, empty or consent POST skips the enrolment', async () => {
    const user = await newUser({ roles: ['admin'] });
    const agent = new BrowserAgent();
    const { request, page } = await passwordStep(agent, user);
    expect(formAction(page.html, '/mfa/enrol')).toBeDefined();
    const uid = uidOf(page);
    const csrf = formValue(page.html, 'csrf')!;
    for (const [step, fields] of [['mfa', { method: 'totp', code: '123456' }], ['mfa/done', {}], ['confirm', {}], ['mfa/send', { factorId: user.id }]] as const) {
      const response = await agent.request(at(`/interaction/${uid}/${step}`), { form: { csrf, ...fields } });
      expect(response.status, step).toBe(400);
    }
    const empty = await agent.request(at(`/interaction/${uid}/mfa/enrol`), { form: { csrf } });
    expect(empty.status).toBe(400);
    expect(formAction(empty.html, '/mfa/enrol')).toBeDefined();
    const json = await postJson(agent, at(`/interaction/${uid}/mfa/webauthn/options`), {}, csrf);
    expect(json.status).toBe(400);
    expect(agent.cookieNames()).not.toContain('pcl.session');

    // Coming back to the sign-in shows the enrolment again; finishing it issues an MFA sign-in.
    const resumed = await agent.request(at(`/interaction/${uid}`));
    expect(formAction(resumed.html, '/mfa/enrol')).toBeDefined();
    const { done } = await enrolDuringSignIn(agent, resumed);
    const claims = claimsOf(await request.redeem(await callbackFrom(agent, done.location!)));
    expect(claims.amr).toEqual(['pwd', 'otp', 'mfa']);
  });
});

describe('passkeys over the JSON endpoints', () => {
  type RequestOptions = Parameters<SoftAuthenticator['getAssertion']>[0];

  /** The login page's passwordless ceremony: options, assertion, finish; returns the finish answer. */
  async function passwordless(agent: BrowserAgent, login: PageResponse, authenticator: SoftAuthenticator, overrides: Parameters<SoftAuthenticator['getAssertion']>[1] = {}) {
    const uid = /\/interaction\/([\w-]+)/.exec(login.url.pathname)![1]!;
    const csrf = passkeyCsrf(login.html);
    const started = await postJson(agent, at(`/interaction/${uid}/passkey/options`), {}, csrf);
    expect(started.status).toBe(200);
    const { options, handle } = started.json as { options: RequestOptions; handle: string };
    return { options, finish: await postJson(agent, at(`/interaction/${uid}/passkey`), { handle, response: authenticator.getAssertion(options, overrides) }, csrf) };
  }

  it('signs in passwordless with a passkey: amr swk + mfa, acr mfa', async () => {
    const user = await newUser();
    const phone = new SoftAuthenticator(s.t.issuer, { backupEligible: true, backedUp: true, counts: false });
    const factorId = await withAuthenticator(user, phone, 'Phone');
    const agent = new BrowserAgent();
    const request = await authorizationRequest(rp.config);
    const login = await openPage(agent, request.url);
    const { options, finish } = await passwordless(agent, login, phone);
    expect(options.allowCredentials ?? []).toEqual([]);
    expect(options.userVerification).toBe('required');
    expect(finish.status).toBe(200);
    const redirect = new URL(String(finish.json.redirect), s.t.issuer);
    expect(redirect.origin).toBe(new URL(s.t.issuer).origin);
    const claims = claimsOf(await request.redeem(await callbackFrom(agent, redirect)));
    expect(claims.amr).toEqual(['swk', 'mfa']);
    expect(claims.acr).toBe(mfaAcr);
    expect(claims.sub).toBe(user.id);
    expect((await eventsOf(user)).at(-1)).toMatchObject({ type: 'mfa.challenge_passed', details: { factorId, factorType: 'webauthn', passwordless: true, userVerified: true } });
  });

  it('refuses a finish without the CSRF header, a replayed challenge, and a signature counter that went back', async () => {
    const user = await newUser();
    const key = new SoftAuthenticator(s.t.issuer);
    const factorId = await withAuthenticator(user, key, 'Desk key');
    const agent = new BrowserAgent();
    const request = await authorizationRequest(rp.config);
    const login = await openPage(agent, request.url);
    const uid = /\/interaction\/([\w-]+)/.exec(login.url.pathname)![1]!;
    const csrf = passkeyCsrf(login.html);

    const started = await postJson(agent, at(`/interaction/${uid}/passkey/options`), {}, csrf);
    const { options, handle } = started.json as { options: RequestOptions; handle: string };
    const assertion = key.getAssertion(options);
    expect(await postJson(agent, at(`/interaction/${uid}/passkey`), { handle, response: assertion })).toMatchObject({ status: 403, json: { error: 'csrf_token_invalid' } });
    expect((await postJson(agent, at(`/interaction/${uid}/passkey`), { handle, response: assertion }, csrf)).status).toBe(200);
    const replay = await postJson(agent, at(`/interaction/${uid}/passkey`), { handle, response: assertion }, csrf);
    expect(replay).toMatchObject({ status: 400, json: { error: 'webauthn_failed' } });
    expect((await s.t.container.db.repos.mfaFactors.findById(user.id, factorId))!.signCount).toBe('2');

    // A cloned key: a valid signature, but a counter no higher than the one stored.
    const other = new BrowserAgent();
    const { finish } = await passwordless(other, await openPage(other, (await authorizationRequest(rp.config)).url), key, { counter: 2 });
    expect(finish).toMatchObject({ status: 400, json: { error: 'webauthn_failed' } });
    expect((await eventsOf(user)).at(-1)).toMatchObject({ type: 'mfa.challenge_failed', details: { reason: 'counter', factorId } });
  });

  it("refuses a disabled account's passkey", async () => {
    const user = await newUser();
    const phone = new SoftAuthenticator(s.t.issuer, { backupEligible: true, backedUp: true });
    await withAuthenticator(user, phone, 'Phone');
    await s.t.container.accounts.setDisabled(user.email, true, 'test');
    const agent = new BrowserAgent();
    const { finish } = await passwordless(agent, await openPage(agent, (await authorizationRequest(rp.config)).url), phone);
    expect(finish).toMatchObject({ status: 403, json: { error: 'account_unavailable' } });
    expect(finish.json.redirect).toBeUndefined();
    expect(agent.cookieNames()).not.toContain('pcl.session');
  });

  it('uses a security key as the second factor after the password: amr pwd + hwk + mfa', async () => {
    const user = await newUser();
    const key = new SoftAuthenticator(s.t.issuer);
    const factorId = await withAuthenticator(user, key, 'Desk key');
    const agent = new BrowserAgent();
    const { request, page } = await passwordStep(agent, user);
    expect(page.html).toContain('Use your passkey or security key.');
    const uid = uidOf(page);
    const csrf = passkeyCsrf(page.html);
    const started = await postJson(agent, at(`/interaction/${uid}/mfa/webauthn/options`), {}, csrf);
    const { options, handle } = started.json as { options: RequestOptions; handle: string };
    expect(options.allowCredentials).toEqual([expect.objectContaining({ id: key.credentials[0]!.id.toString('base64url') })]);
    const finish = await postJson(agent, at(`/interaction/${uid}/mfa/webauthn`), { handle, response: key.getAssertion(options) }, csrf);
    expect(finish.status).toBe(200);
    const claims = claimsOf(await request.redeem(await callbackFrom(agent, new URL(String(finish.json.redirect), s.t.issuer))));
    expect(claims.amr).toEqual(['pwd', 'hwk', 'mfa']);
    expect(claims.acr).toBe(mfaAcr);
    expect((await eventsOf(user)).at(-1)).toMatchObject({ type: 'mfa.challenge_passed', details: { factorId, passwordless: false } });
  });
});
