/**
 * /account/security driven over HTTP like a browser: enrolling every kind of factor through the
 * page (TOTP key read from the page, email codes through a real SMTP receiver, SMS codes through a
 * local webhook receiver that checks the HMAC signature), the recovery codes shown once, rename,
 * remove (fresh sign-in needed, last factor kept while a policy requires one), new recovery codes,
 * and CSRF on every form.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { SoftAuthenticator } from '../helpers/soft-authenticator.js';
import { BrowserAgent, formValue, type PageResponse } from '../helpers/browser-agent.js';
import {
  alertText, auditEvents, createAccount, emailedCode, fieldError, mailTo, passkeyCsrf, postJson, recoveryCodesOn, startAccountsServer,
  startSmsWebhook, submitForm, submitLogin, totpCode, totpKeyOn, uniquePhone, type AccountsServer, type SmsWebhook,
} from '../helpers/accounts-fixtures.js';

const smsSecret = randomBytes(24).toString('hex');
let s: AccountsServer;
let sms: SmsWebhook;

beforeAll(async () => {
  sms = await startSmsWebhook(smsSecret);
  s = await startAccountsServer({
    sms: { provider: 'webhook', url: sms.url, secret: smsSecret },
    // Every sign-in in this file comes from 127.0.0.1; the per-IP limit has its own tests.
    rateLimits: { loginPerIp: { points: 1000, durationSeconds: 60 } },
  });
});
afterAll(async () => {
  await s?.close();
  await sms?.close();
});
afterEach(() => {
  vi.useRealTimers();
});

const at = (path: string) => new URL(path, s.t.issuer);
const today = () => new Date().toISOString().slice(0, 10);

type User = { id: string; email: string; password: string };

/** Answers a second-factor challenge page (the form posting to /interaction/:uid/mfa). */
async function answerChallenge(agent: BrowserAgent, page: PageResponse, fields: Record<string, string>) {
  const action = /action="(\/interaction\/[\w-]+\/mfa)"/.exec(page.html)?.[1];
  expect(action, page.html.slice(0, 300)).toBeDefined();
  return agent.request(at(action!), { form: { csrf: formValue(page.html, 'csrf')!, ...fields } });
}

/**
 * Signs in from `start` (a page of /account that sends to the sign-in) and follows back to it; a
 * second-factor challenge on the way is answered with `secondFactor`.
 */
async function signIn(agent: BrowserAgent, start: PageResponse, user: User, secondFactor?: Record<string, string>): Promise<PageResponse> {
  let posted = await submitLogin(agent, start, user);
  if (posted.status === 200 && /\/mfa"/.test(posted.html)) {
    expect(secondFactor, 'a second factor was asked for').toBeDefined();
    posted = await answerChallenge(agent, posted, secondFactor!);
  }
  expect(posted.status, posted.html.slice(0, 300)).toBe(303);
  return agent.follow(posted.location!);
}

/** A browser signed in to /account/security. */
async function onSecurityPage(user: User, secondFactor?: Record<string, string>) {
  const agent = new BrowserAgent();
  const page = await signIn(agent, await agent.follow(at('/account/security')), user, secondFactor);
  expect(page.url.pathname).toBe('/account/security');
  expect(page.status).toBe(200);
  return { agent, page };
}

/** Adds an authenticator app through the page: the key read from the page, the code from otplib. */
async function addTotp(agent: BrowserAgent, page: PageResponse) {
  const enrol = await submitForm(agent, page, '/account/security/totp', {});
  expect(enrol.status).toBe(200);
  const secret = totpKeyOn(enrol.html);
  const factorId = formValue(enrol.html, 'factorId')!;
  const confirmed = await submitForm(agent, enrol, '/account/security/totp/confirm', { code: await totpCode(secret) });
  return { enrol, secret, factorId, confirmed };
}

/** The factor rows of the security page: name, type tag and the dates line. */
function factorsOn(html: string) {
  return [...html.matchAll(/<li>\s*<strong>([^<]*)<\/strong> <span class="tag">([^<]*)<\/span>\s*<br><span class="hint">([^<]*)<\/span>[\s\S]*?action="\/account\/security\/([\w-]+)\/rename"/g)]
    .map((m) => ({ name: m[1]!, type: m[2]!, dates: m[3]!, id: m[4]! }));
}

const securityPage = (agent: BrowserAgent) => agent.request(at('/account/security'));
const auditTypes = async (user: User) => (await auditEvents(s.t, user.id)).map((event) => event.type);

describe('an authenticator app added through the page', () => {
  it('shows a QR code and the key, shows the recovery codes once, and lists the factor with type, date added and last use', async () => {
    const user = await createAccount(s.t);
    const { agent, page } = await onSecurityPage(user);
    expect(page.html).toContain('You have no second factor yet.');

    const { enrol, secret, factorId, confirmed } = await addTotp(agent, page);
    expect(enrol.html).toContain('data:image/png;base64,');
    expect(secret).toMatch(/^[A-Z2-7]{16,}$/);
    // The first factor of an account yields the recovery codes, on a page of their own.
    expect(confirmed.status).toBe(302);
    expect(confirmed.location!.pathname).toBe('/account/security/codes');
    const codesCookie = confirmed.headers.getSetCookie().find((line) => line.startsWith('pcl.recovery-codes='))!;
    expect(codesCookie).toMatch(/httponly/i);

    const codesPage = await agent.request(confirmed.location!);
    expect(codesPage.status).toBe(200);
    const codes = recoveryCodesOn(codesPage.html);
    expect(codes).toHaveLength(10);
    expect(new Set(codes).size).toBe(10);
    // The cookie carried them sealed, never in clear.
    for (const code of codes) expect(codesCookie).not.toContain(code);
    const again = await agent.request(at('/account/security/codes'));
    expect(again.status).toBe(302);
    expect(again.location!.pathname).toBe('/account/security');
    expect(recoveryCodesOn(again.html)).toEqual([]);

    const done = await submitForm(agent, codesPage, '/account/security/done', {});
    expect(done.location!.pathname).toBe('/account/security');
    const listed = await securityPage(agent);
    expect(factorsOn(listed.html)).toEqual([{ name: 'Authenticator app', type: 'Authenticator app', dates: `Added ${today()} · last used ${today()}`, id: factorId }]);
    expect(listed.html).toContain('Recovery codes left: 10');

    // Sealed at rest: the column holds a JWE that opens to the seed, never the seed itself.
    const [row] = await s.t.container.dataSource.query(`SELECT secret_encrypted FROM mfa_factors WHERE id = $1`, [factorId]) as Array<{ secret_encrypted: string }>;
    expect(row!.secret_encrypted).not.toContain(secret);
    expect(row!.secret_encrypted.split('.')).toHaveLength(5);
    expect(await s.t.container.secretBox.open(row!.secret_encrypted)).toBe(secret);
    // Recovery codes are stored as keyed hashes.
    const hashes = await s.t.container.dataSource.query(`SELECT code_hash FROM recovery_codes WHERE account_id = $1`, [user.id]) as Array<{ code_hash: string }>;
    expect(hashes).toHaveLength(10);
    for (const { code_hash: hash } of hashes) {
      expect(hash).toMatch(/^[0-9a-f]{64}$/);
      expect(codes.some((code) => hash.includes(code.replace('-', '')))).toBe(false);
    }
    expect((await auditEvents(s.t, user.id)).filter((e) => e.type === 'mfa.enrolled')).toEqual([
      expect.objectContaining({ ip: '127.0.0.1', details: { factorId, factorType: 'totp', name: 'Authenticator app' } }),
    ]);
  });

  it('refuses a wrong code without confirming the factor, and accepts the right one from the same page', async () => {
    const user = await createAccount(s.t);
    const { agent, page } = await onSecurityPage(user);
    const enrol = await submitForm(agent, page, '/account/security/totp', {});
    const wrong = await submitForm(agent, enrol, '/account/security/totp/confirm', { code: '000000' });
    expect(wrong.status).toBe(400);
    expect(alertText(wrong.html)).toBe('That code is not valid. Try the current code.');
    expect(factorsOn(wrong.html)).toEqual([]);
    const right = await submitForm(agent, enrol, '/account/security/totp/confirm', { code: await totpCode(totpKeyOn(enrol.html)) });
    expect(right.status).toBe(302);
    expect(factorsOn((await securityPage(agent)).html)).toHaveLength(1);
    expect(await auditTypes(user)).toEqual(expect.arrayContaining(['mfa.enrolment_failed', 'mfa.enrolled']));
  });

  it('adds a second authenticator app without new recovery codes', async () => {
    const user = await createAccount(s.t);
    const { agent, page } = await onSecurityPage(user);
    const first = await addTotp(agent, page);
    const codes = recoveryCodesOn((await agent.request(first.confirmed.location!)).html);
    const second = await addTotp(agent, await securityPage(agent));
    expect(second.confirmed.status).toBe(200);
    expect(second.confirmed.html).toContain('The second factor was added.');
    expect(second.confirmed.headers.getSetCookie().some((line) => line.startsWith('pcl.recovery-codes='))).toBe(false);
    expect(factorsOn(second.confirmed.html).map((factor) => factor.type)).toEqual(['Authenticator app', 'Authenticator app']);
    expect((await agent.request(at('/account/security/codes'))).status).toBe(302);
    // The first set still stands.
    expect(codes).toHaveLength(10);
    expect(await s.t.container.mfa.remainingRecoveryCodes(user.id)).toBe(10);
  });
});

describe('renaming and removing', () => {
  it('renames a factor, and refuses an empty or overlong name', async () => {
    const user = await createAccount(s.t);
    const { agent, page } = await onSecurityPage(user);
    const { factorId } = await addTotp(agent, page);
    const listed = await securityPage(agent);
    const renamed = await submitForm(agent, listed, `/account/security/${factorId}/rename`, { name: '  Work phone  ' });
    expect(renamed.status).toBe(200);
    expect(renamed.html).toContain('Renamed.');
    expect(factorsOn(renamed.html)[0]).toMatchObject({ name: 'Work phone', type: 'Authenticator app' });
    for (const name of ['   ', 'x'.repeat(61)]) {
      const refused = await submitForm(agent, renamed, `/account/security/${factorId}/rename`, { name });
      expect(refused.status).toBe(400);
      expect(alertText(refused.html)).toBe('Give it a name of at most 60 characters.');
    }
    expect(factorsOn((await securityPage(agent)).html)[0]!.name).toBe('Work phone');
    expect((await auditEvents(s.t, user.id)).find((e) => e.type === 'mfa.renamed')).toMatchObject({ details: { factorId, before: 'Authenticator app', after: 'Work phone' } });
  });

  it('removes a factor right after a sign-in; the last one takes the recovery codes with it', async () => {
    const user = await createAccount(s.t);
    const { agent, page } = await onSecurityPage(user);
    const { factorId } = await addTotp(agent, page);
    const removed = await submitForm(agent, await securityPage(agent), `/account/security/${factorId}/remove`, {});
    expect(removed.status).toBe(200);
    expect(removed.html).toContain('The second factor was removed.');
    expect(removed.html).toContain('You have no second factor yet.');
    expect(await s.t.container.mfa.remainingRecoveryCodes(user.id)).toBe(0);
    expect((await auditEvents(s.t, user.id)).find((e) => e.type === 'mfa.removed')).toMatchObject({ details: { factorId, factorType: 'totp', name: 'Authenticator app' } });
  });

  it('sends a sign-in older than mfa.recentAuthSeconds to sign in again (second factor included), then removes', async () => {
    const user = await createAccount(s.t);
    const { agent, page } = await onSecurityPage(user);
    const { factorId, secret } = await addTotp(agent, page);
    const listed = await securityPage(agent);

    // The server runs in this process: moving Date moves its clock, and the sign-in goes stale.
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + (s.t.container.config.mfa.recentAuthSeconds + 1) * 1000);
    const stale = await submitForm(agent, listed, `/account/security/${factorId}/remove`, {});
    expect(stale.status).toBe(302);
    expect(stale.location!.pathname).toBe('/auth');
    expect(stale.location!.searchParams.get('prompt')).toBe('login');
    expect(factorsOn((await securityPage(agent)).html)).toHaveLength(1);

    const login = await agent.follow(stale.location!);
    const back = await signIn(agent, login, user, { method: 'totp', code: await totpCode(secret) });
    expect(back.url.pathname).toBe('/account/security');
    const removed = await submitForm(agent, back, `/account/security/${factorId}/remove`, {});
    expect(removed.status).toBe(200);
    expect(removed.html).toContain('The second factor was removed.');
    expect(await auditTypes(user)).toContain('mfa.removed');
  });

  it('refuses to remove the last factor while the account requires MFA, with a clear message', async () => {
    const user = await createAccount(s.t);
    const { agent, page } = await onSecurityPage(user);
    const { factorId } = await addTotp(agent, page);
    await s.t.container.accounts.setMfaRequired(user.email, true, 'test');

    const refused = await submitForm(agent, await securityPage(agent), `/account/security/${factorId}/remove`, {});
    expect(refused.status).toBe(400);
    expect(alertText(refused.html)).toBe('Your account must keep a second factor. Add another one before removing this one.');
    expect(factorsOn(refused.html)).toHaveLength(1);
    expect(await s.t.container.mfa.remainingRecoveryCodes(user.id)).toBe(10);
    expect(await auditTypes(user)).not.toContain('mfa.removed');

    // With a second factor, one of them can go; then the other is the last again.
    const withEmail = await submitForm(agent, refused, '/account/security/email', {});
    const added = await submitForm(agent, withEmail, '/account/security/otp/confirm', { code: await emailedCode(s.mail, user.email) });
    expect(added.location!.pathname).toBe('/account/security');
    const two = await securityPage(agent);
    const email = factorsOn(two.html).find((factor) => factor.type === 'Email code')!;
    expect((await submitForm(agent, two, `/account/security/${factorId}/remove`, {})).status).toBe(200);
    const last = await submitForm(agent, await securityPage(agent), `/account/security/${email.id}/remove`, {});
    expect(last.status).toBe(400);
    expect(alertText(last.html)).toBe('Your account must keep a second factor. Add another one before removing this one.');
  });
});

describe('recovery codes', () => {
  it('makes a new set that voids the old one; using a code works once and emails a notice', async () => {
    const user = await createAccount(s.t);
    const { agent, page } = await onSecurityPage(user);
    const { confirmed } = await addTotp(agent, page);
    const old = recoveryCodesOn((await agent.request(confirmed.location!)).html);

    const regenerated = await submitForm(agent, await securityPage(agent), '/account/security/recovery-codes', {});
    expect(regenerated.status).toBe(200);
    const fresh = recoveryCodesOn(regenerated.html);
    expect(fresh).toHaveLength(10);
    expect(fresh.filter((code) => old.includes(code))).toEqual([]);
    expect(await auditTypes(user)).toContain('mfa.recovery_codes_regenerated');

    // A sign-in elsewhere: the old code is refused, a new one accepted once.
    const laptop = new BrowserAgent();
    const challenge = await submitLogin(laptop, await laptop.follow(at('/account')), user);
    expect(challenge.status).toBe(200);
    const refused = await answerChallenge(laptop, challenge, { method: 'recovery', code: old[0]! });
    expect(refused.status).toBe(400);
    expect(alertText(refused.html)).toBe('That code is not valid. Try the current code.');
    const accepted = await answerChallenge(laptop, refused, { method: 'recovery', code: fresh[0]!.toUpperCase() });
    expect(accepted.status).toBe(303);
    expect((await laptop.follow(accepted.location!)).url.pathname).toBe('/account');
    expect(await s.t.container.mfa.remainingRecoveryCodes(user.id)).toBe(9);
    const notice = await mailTo(s.mail, user.email, /recovery code was used/);
    expect(notice.text).toContain('You have 9 recovery codes left.');
    expect(await auditTypes(user)).toEqual(expect.arrayContaining(['mfa.challenge_failed', 'mfa.recovery_code_used']));

    const phone = new BrowserAgent();
    const again = await answerChallenge(phone, await submitLogin(phone, await phone.follow(at('/account')), user), { method: 'recovery', code: fresh[0]! });
    expect(again.status).toBe(400);
  });

  it('refuses to make recovery codes for an account without a factor', async () => {
    const user = await createAccount(s.t);
    const { agent, page } = await onSecurityPage(user);
    expect(page.html).not.toContain('/account/security/recovery-codes');
    const refused = await agent.request(at('/account/security/recovery-codes'), { form: { csrf: formValue(page.html, 'csrf')! } });
    expect(refused.status).toBe(400);
    expect(refused.html).toContain('Add a second factor first.');
    expect(await s.t.container.mfa.remainingRecoveryCodes(user.id)).toBe(0);
  });
});

describe('codes by email and by text message', () => {
  it('adds email codes with the code from the real SMTP receiver; only a keyed hash is stored', async () => {
    const user = await createAccount(s.t);
    const { agent, page } = await onSecurityPage(user);
    const confirm = await submitForm(agent, page, '/account/security/email', {});
    expect(confirm.status).toBe(200);
    expect(confirm.html).toContain(`We sent a 6-digit code to ${user.email[0]}•••@example.test.`);
    const code = await emailedCode(s.mail, user.email);
    const factorId = formValue(confirm.html, 'factorId')!;
    const [challenge] = await s.t.container.dataSource.query(`SELECT code_hash FROM otp_challenges WHERE factor_id = $1`, [factorId]) as Array<{ code_hash: string }>;
    expect(challenge!.code_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(challenge!.code_hash).not.toContain(code);

    const wrong = await submitForm(agent, confirm, '/account/security/otp/confirm', { code: code === '000000' ? '000001' : '000000' });
    expect(wrong.status).toBe(400);
    expect(alertText(wrong.html)).toBe('That code is not valid. Try the current code.');
    const added = await submitForm(agent, wrong, '/account/security/otp/confirm', { code });
    expect(added.status).toBe(302);
    expect(added.location!.pathname).toBe('/account/security/codes');
    expect(recoveryCodesOn((await agent.request(added.location!)).html)).toHaveLength(10);
    expect(factorsOn((await securityPage(agent)).html)).toEqual([{ name: 'Email', type: 'Email code', dates: `Added ${today()} · never used`, id: factorId }]);
    const events = await auditEvents(s.t, user.id);
    expect(events.find((e) => e.type === 'mfa.code_issued')).toMatchObject({
      details: { factorId, factorType: 'email' },
    });
    expect(events.find((e) => e.type === 'email.queued')).toMatchObject({ details: { template: 'mfa-code' } });
    expect(events.find((e) => e.type === 'mfa.enrolled')).toMatchObject({ details: { factorId, factorType: 'email' } });
  });

  it('adds SMS codes: the code is POSTed to the webhook with a signature the receiver verifies', async () => {
    const user = await createAccount(s.t);
    const { agent, page } = await onSecurityPage(user);
    const invalid = await submitForm(agent, page, '/account/security/sms', { phone: '12345' });
    expect(invalid.status).toBe(400);
    expect(fieldError(invalid.html, 'phone')).toContain('international format');

    const phone = uniquePhone();
    const refusedBefore = sms.refused;
    const spaced = `${phone.slice(0, 3)} ${phone.slice(3, 7)} ${phone.slice(7)}`;
    const confirm = await submitForm(agent, page, '/account/security/sms', { phone: spaced });
    expect(confirm.status).toBe(200);
    expect(confirm.html).toContain(`We sent a 6-digit code to ${phone.slice(0, 3)}${'•'.repeat(phone.length - 5)}${phone.slice(-2)}.`);
    const code = await sms.nextCode(phone);
    expect(sms.refused).toBe(refusedBefore);
    const [text] = sms.texts.filter((message) => message.to === phone);
    expect(text!.text).toMatch(/^\d{6} is your Portcullis verification code\. It expires in 10 minutes\./);
    expect(text!.text).toContain(`@${new URL(s.t.issuer).host} #${code}`);

    const added = await submitForm(agent, confirm, '/account/security/otp/confirm', { code });
    expect(added.location!.pathname).toBe('/account/security/codes');
    const [factor] = factorsOn((await securityPage(agent)).html);
    expect(factor).toMatchObject({ type: 'Text message', name: `SMS ${phone.slice(0, 3)}${'•'.repeat(phone.length - 5)}${phone.slice(-2)}` });
    const [row] = await s.t.container.dataSource.query(`SELECT phone, confirmed_at FROM mfa_factors WHERE id = $1`, [factor!.id]) as Array<{ phone: string; confirmed_at: Date | null }>;
    expect(row).toMatchObject({ phone, confirmed_at: expect.any(Date) });

    // The receiver really checks: a request signed with another secret is turned away.
    const body = JSON.stringify({ to: phone, text: '000000 is your code', timestamp: Math.floor(Date.now() / 1000) });
    const timestamp = String(Math.floor(Date.now() / 1000));
    const forged = await fetch(sms.url, { method: 'POST', body, headers: {
      'content-type': 'application/json', 'x-portcullis-timestamp': timestamp,
      'x-portcullis-signature': `sha256=${createHmac('sha256', 'not the shared secret').update(`${timestamp}.${body}`).digest('hex')}`,
    } });
    expect(forged.status).toBe(401);
    expect(sms.refused).toBe(refusedBefore + 1);

    // The same number twice is refused.
    const duplicate = await submitForm(agent, await securityPage(agent), '/account/security/sms', { phone });
    expect(duplicate.status).toBe(409);
    expect(duplicate.html).toContain('This number is already set up.');
  });
});

describe('passkeys and security keys', () => {
  it('registers several named authenticators through the JSON endpoints; recovery codes come with the first', async () => {
    const user = await createAccount(s.t);
    const { agent, page } = await onSecurityPage(user);
    const csrf = passkeyCsrf(page.html);
    const register = async (authenticator: SoftAuthenticator, name: string) => {
      const started = await postJson(agent, at('/account/security/webauthn/options'), {}, csrf);
      expect(started.status).toBe(200);
      const { options, handle } = started.json as { options: Parameters<SoftAuthenticator['createCredential']>[0]; handle: string };
      expect(options.rp.id).toBe(new URL(s.t.issuer).hostname);
      return postJson(agent, at('/account/security/webauthn'), { handle, response: authenticator.createCredential(options), name }, csrf);
    };
    const key = new SoftAuthenticator(s.t.issuer);
    const phone = new SoftAuthenticator(s.t.issuer, { backupEligible: true, backedUp: true, counts: false });
    const first = await register(key, 'Desk key');
    expect(first).toMatchObject({ status: 200, json: { redirect: '/account/security/codes' } });
    expect(recoveryCodesOn((await agent.request(at('/account/security/codes'))).html)).toHaveLength(10);
    expect((await register(phone, 'Phone')).json).toEqual({ redirect: '/account/security' });
    // The same authenticator again is excluded by the options; forcing it is refused.
    const started = await postJson(agent, at('/account/security/webauthn/options'), {}, csrf);
    const { options, handle } = started.json as { options: Parameters<SoftAuthenticator['createCredential']>[0]; handle: string };
    expect(options.excludeCredentials).toHaveLength(2);
    const twice = await postJson(agent, at('/account/security/webauthn'), { handle, response: key.createCredential(options, { reuse: key.credentials[0] }), name: 'Again' }, csrf);
    expect(twice).toMatchObject({ status: 409, json: { error: 'webauthn_credential_exists' } });

    const listed = factorsOn((await securityPage(agent)).html);
    expect(listed.map(({ name, type }) => ({ name, type }))).toEqual([
      { name: 'Desk key', type: 'Passkey or security key' },
      { name: 'Phone', type: 'Passkey or security key' },
    ]);
    expect((await auditEvents(s.t, user.id)).filter((e) => e.type === 'mfa.enrolled').map((e) => e.details.name)).toEqual(['Desk key', 'Phone']);
  });
});

describe('CSRF', () => {
  it('answers 403 to every form and JSON endpoint without the token or with another browser\'s, and changes nothing', async () => {
    const user = await createAccount(s.t);
    const { agent, page } = await onSecurityPage(user);
    const { factorId } = await addTotp(agent, page);
    const stranger = new BrowserAgent();
    const strangerToken = formValue((await stranger.request(at('/forgot-password'))).html, 'csrf')!;
    const forms: Array<[string, Record<string, string>]> = [
      ['/account/security/totp', {}],
      ['/account/security/totp/confirm', { factorId, code: '123456' }],
      ['/account/security/email', {}],
      ['/account/security/sms', { phone: uniquePhone() }],
      ['/account/security/otp/confirm', { factorId, code: '123456' }],
      ['/account/security/done', {}],
      ['/account/security/recovery-codes', {}],
      [`/account/security/${factorId}/rename`, { name: 'Mallory' }],
      [`/account/security/${factorId}/remove`, {}],
    ];
    for (const [path, fields] of forms) {
      for (const csrf of [undefined, strangerToken]) {
        const response = await agent.request(at(path), { method: 'POST', form: { ...fields, ...(csrf ? { csrf } : {}) } });
        expect(response.status, `${path} with ${csrf ? 'a foreign' : 'no'} token`).toBe(403);
        expect(alertText(response.html)).toMatch(/form expired or was sent from another site/);
      }
    }
    for (const path of ['/account/security/webauthn/options', '/account/security/webauthn']) {
      for (const csrf of [undefined, strangerToken]) {
        const response = await postJson(agent, at(path), { handle: 'x', response: {} }, csrf);
        expect(response, `${path} with ${csrf ? 'a foreign' : 'no'} token`).toMatchObject({ status: 403, json: { error: 'csrf_token_invalid' } });
      }
    }
    const listed = factorsOn((await securityPage(agent)).html);
    expect(listed).toEqual([expect.objectContaining({ id: factorId, name: 'Authenticator app' })]);
    expect(await s.t.container.mfa.remainingRecoveryCodes(user.id)).toBe(10);
    expect((await auditEvents(s.t, user.id)).filter((e) => e.type.startsWith('mfa.')).map((e) => e.type)).toEqual(['mfa.enrolled']);
  });

  it('refuses every form without a session with 401', async () => {
    const agent = new BrowserAgent();
    const csrf = formValue((await agent.request(at('/forgot-password'))).html, 'csrf')!;
    for (const path of ['/account/security/totp', '/account/security/email', '/account/security/recovery-codes']) {
      expect((await agent.request(at(path), { form: { csrf } })).status, path).toBe(401);
    }
  });
});
