/**
 * Every credential change needs a recent sign-in (src/account/recent-auth.ts) and tells the owner
 * (src/accounts/security-notices.ts). The class test walks every route the app serves: each
 * POST under /account either carries the recent-auth guard or is listed here as not changing a
 * credential, and each guarded route, driven over HTTP with a stale session, changes nothing.
 * The clock is moved with fake Date (the server runs in this process), never by sleeping.
 */
import type Router from '@koa/router';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { isRecentAuthGuard } from '../../src/account/recent-auth.js';
import { routerOf } from '../../src/http/route-table.js';
import { acr } from '../../src/mfa/mfa-policy.js';
import { SoftAuthenticator } from '../helpers/soft-authenticator.js';
import { BrowserAgent, formValue, type PageResponse } from '../helpers/browser-agent.js';
import {
  authorizationRequest, createAccount, createRelyingParty, emailedCode, linkIn, mailTo, messagesTo, openPage,
  passkeyCsrf, postJson, recoveryCodesOn, spendLink, startAccountsServer, strongPassword, submitForm, submitLogin,
  totpCode, totpKeyOn, uniqueEmail, uniquePhone, type AccountsServer,
} from '../helpers/accounts-fixtures.js';

let s: AccountsServer;

beforeAll(async () => {
  s = await startAccountsServer({ apiKeys: { personal: true }, rateLimits: manySignIns });
});
afterAll(() => s?.close());
afterEach(() => {
  vi.useRealTimers();
});

const at = (path: string) => new URL(path, s.t.issuer);
// Every sign-in in this file comes from 127.0.0.1; the per-IP limit has its own tests.
const manySignIns = { loginPerIp: { points: 1000, durationSeconds: 60 } };
const firefox = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0';
type User = { id: string; email: string; password: string };

/** Routes that change a credential: each must carry the recent-auth guard. */
const credentialRoutes = [
  'POST /account/security/totp', 'POST /account/security/totp/confirm',
  'POST /account/security/webauthn/options', 'POST /account/security/webauthn',
  'POST /account/security/email', 'POST /account/security/sms', 'POST /account/security/otp/confirm',
  'POST /account/security/recovery-codes', 'POST /account/security/:id/remove',
  'GET /account/password', 'POST /account/password', 'GET /account/email', 'POST /account/email',
  'POST /account/api-keys', 'POST /account/api-keys/:id/rotate',
];

/** POSTs under /account that change no credential, and why. */
const notCredentialChanges: Record<string, string> = {
  'POST /account/profile': 'the display name only',
  'POST /account/security/done': 'leaves the recovery codes page',
  'POST /account/security/:id/rename': 'a factor label, not the factor',
  'POST /account/api-keys/:id/revoke': 'only takes access away',
  'POST /account/sessions/end-others': 'only ends sessions',
  'POST /account/sessions/:uid/end': 'only ends a session',
  'POST /account/email/confirm': 'the link from the new inbox; requesting the change needed a recent sign-in',
};

/** Every route of every router the app mounts, with whether the recent-auth guard is on it. */
function appRoutes(): Array<{ route: string; guarded: boolean }> {
  const routers = s.t.server.app.middleware
    .map((middleware) => routerOf(middleware))
    .filter((router) => router !== undefined);
  expect(routers.length).toBeGreaterThan(5);
  const layers = routers.flatMap((router) => router.stack);
  return layers.flatMap((layer) => layer.methods.filter((method) => method !== 'HEAD').map((method) => ({
    route: `${method} ${String(layer.path).replace(/(.)\/$/, '$1')}`, guarded: layer.stack.some(isRecentAuthGuard),
  })));
}

/** Signs in from a page that sent to the sign-in (no second factor), and follows back. */
async function signIn(agent: BrowserAgent, start: PageResponse, user: User) {
  const posted = await submitLogin(agent, start, user);
  expect(posted.status, posted.html.slice(0, 300)).toBe(303);
  return agent.follow(posted.location!);
}

async function signedInAt(path: string, user: User) {
  const agent = new BrowserAgent();
  const page = await signIn(agent, await agent.follow(at(path)), user);
  expect(page.url.pathname).toBe(path);
  return { agent, page };
}

async function addTotp(agent: BrowserAgent, page: PageResponse, headers?: Record<string, string>) {
  const enrol = await submitForm(agent, page, '/account/security/totp', {});
  const secret = totpKeyOn(enrol.html);
  const factorId = formValue(enrol.html, 'factorId')!;
  const code = await totpCode(secret);
  const confirmed = await submitForm(agent, enrol, '/account/security/totp/confirm', { code }, headers);
  return { secret, factorId, confirmed };
}

/** Moves the server's clock past mfa.recentAuthSeconds: every sign-in so far is stale. */
function goStale() {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(Date.now() + (s.t.container.config.mfa.recentAuthSeconds + 1) * 1000);
}

/** Every credential the account holds, as rows; equal snapshots mean nothing changed. */
async function credentials(accountId: string) {
  const q = (sql: string) => s.t.container.dataSource.query(sql, [accountId]);
  return JSON.stringify({
    account: await q('SELECT email, password_hash, password_changed_at FROM accounts WHERE id = $1'),
    factors: await q('SELECT id, type, name, confirmed_at FROM mfa_factors WHERE account_id = $1 ORDER BY id'),
    codes: await q('SELECT code_hash, used_at FROM recovery_codes WHERE account_id = $1 ORDER BY code_hash'),
    keys: await q('SELECT id, secret_digest, revoked_at FROM api_keys WHERE account_id = $1 ORDER BY id'),
    tokens: await q('SELECT purpose, email FROM account_tokens WHERE account_id = $1 ORDER BY created_at'),
  });
}

/**
 * Mail to `address` once every email queued for it has left the outbox: `notifier.drain()` waits
 * only for the queueing; the outbox worker delivers just after, off the request path.
 */
async function settledMailTo(address: string, server: AccountsServer = s) {
  await server.t.container.notifier.drain();
  const undelivered = async () => {
    const [row] = await server.t.container.dataSource.query(
      `SELECT count(*)::int AS n FROM outbox_messages
        WHERE status = 'pending' AND kind = 'email' AND lower(payload->>'to') = lower($1)`, [address],
    ) as Array<{ n: number }>;
    return row!.n;
  };
  // Bounded on performance.now(), not eventually()'s Date.now(): goStale() freezes the fake Date.
  const deadline = performance.now() + 10_000;
  for (let left = await undelivered(); left > 0; left = await undelivered()) {
    if (performance.now() > deadline) throw new Error(`${left} email(s) to ${address} still undelivered after 10 s`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return messagesTo(server.mail, address);
}

function expectStepUp(location: URL | undefined) {
  expect(location?.pathname).toBe('/auth');
  expect(location!.searchParams.get('client_id')).toBe('portcullis-account');
  expect(location!.searchParams.get('prompt')).toBe('login');
}

describe('the recent-auth rule, as a class', () => {
  it('guards every credential-changing route the app serves; nothing unlisted posts under /account unguarded', () => {
    const routes = appRoutes().filter(({ route }) => / \/account\//.test(route));
    expect(routes.filter((r) => r.guarded).map((r) => r.route).sort()).toEqual([...credentialRoutes].sort());
    const unguardedChanges = routes.filter((r) => !r.guarded && !r.route.startsWith('GET ')).map((r) => r.route);
    expect(unguardedChanges.sort()).toEqual(Object.keys(notCredentialChanges).sort());
  });

  it('refuses each guarded route to a stale sign-in (page: step-up sign-in, JSON: 401), changing nothing', async () => {
    const user = await createAccount(s.t);
    const { agent, page } = await signedInAt('/account/security', user);
    const { factorId, confirmed } = await addTotp(agent, page);
    await agent.request(confirmed.location!);
    const keyPage = await agent.request(at('/account/api-keys'));
    expect((await submitForm(agent, keyPage, '/account/api-keys', { name: 'script', api: '' })).status).toBe(200);
    const [key] = await s.t.container.apiKeys.list({ accountId: user.id });
    const security = await agent.request(at('/account/security'));
    const csrf = formValue(security.html, 'csrf')!;
    const before = await credentials(user.id);
    const mailBefore = (await settledMailTo(user.email)).length;

    goStale();
    const fields: Record<string, Record<string, string>> = {
      'POST /account/security/totp/confirm': { factorId, code: '123456' },
      'POST /account/security/sms': { phone: uniquePhone() },
      'POST /account/security/otp/confirm': { factorId, code: '123456' },
      'POST /account/password': { current: user.password, password: strongPassword() },
      'POST /account/email': { email: uniqueEmail('thief'), password: user.password },
      'POST /account/api-keys': { name: 'planted', api: '' },
    };
    for (const route of credentialRoutes) {
      const [method, template] = route.split(' ') as [string, string];
      const path = template.replace(':id', template.startsWith('/account/api-keys') ? key!.id : factorId);
      if (method === 'GET') {
        expectStepUp((await agent.request(at(path))).location);
      } else if (path.includes('/webauthn')) {
        const answer = await postJson(agent, at(path), { handle: 'x', response: {} }, passkeyCsrf(security.html));
        expect(answer.status, route).toBe(401);
        expect(answer.json.error).toBe('reauthentication_required');
        expectStepUp(new URL(String(answer.json.redirect)));
      } else {
        const refused = await agent.request(at(path), { form: { csrf, ...fields[route] } });
        expect(refused.status, route).toBe(302);
        expectStepUp(refused.location);
      }
    }
    expect(await credentials(user.id)).toBe(before);
    expect((await settledMailTo(user.email)).length).toBe(mailBefore);
  });

  it('sends a stale password change through a step-up sign-in back to the form; then done and mailed', async () => {
    const user = await createAccount(s.t);
    const { agent } = await signedInAt('/account', user);
    goStale();
    const stale = await agent.request(at('/account/password'));
    expectStepUp(stale.location);
    const back = await signIn(agent, await agent.follow(stale.location!), user);
    expect(back.url.pathname).toBe('/account/password');
    const password = strongPassword();
    const changed = await submitForm(agent, back, '/account/password', { current: user.password, password }, {
      'user-agent': firefox,
    });
    expect(changed.status).toBe(200);
    expect(changed.html).toContain('Your password was changed.');
    const notice = await mailTo(s.mail, user.email, /password was changed/);
    expect(notice.text).toContain('From: Firefox 128 on Linux, IP address 127.0.0.1');
    expect(notice.text).toMatch(/When: \w+ \d{1,2}, \d{4} at \d{1,2}:\d{2} [AP]M UTC/);
    expect(notice.text).toContain(`${s.t.issuer}/account/security`);
    expect(notice.text).not.toContain(password);
  });

  it('asks a stale session for its password before a step-up enrols a first factor; a recent one enrols', async () => {
    const user = await createAccount(s.t);
    const { agent } = await signedInAt('/account', user);
    const { config } = await createRelyingParty(s.t);
    const recent = await openPage(agent, (await authorizationRequest(config, { acr_values: acr.mfa })).url);
    expect(recent.html).toContain('/mfa/enrol');

    goStale();
    const stale = await openPage(agent, (await authorizationRequest(config, { acr_values: acr.mfa })).url);
    expect(stale.html).not.toContain('/mfa/enrol');
    const afterPassword = await submitLogin(agent, stale, user);
    expect(afterPassword.status).toBe(200);
    expect(afterPassword.html).toContain('/mfa/enrol');
    // A factor enrolled during a sign-in is a factor added like any other: the owner is told.
    const code = await totpCode(totpKeyOn(afterPassword.html));
    expect((await submitForm(agent, afterPassword, '/mfa/enrol', { code })).status).toBe(200);
    expect((await mailTo(s.mail, user.email, /second factor was added/)).text).toContain('account: authenticator app.');
  });
});

describe('notices to the owner', () => {
  it('a first authenticator app: one "factor added" email naming it, without the key or the codes', async () => {
    const user = await createAccount(s.t);
    const { agent, page } = await signedInAt('/account/security', user);
    const { secret, confirmed } = await addTotp(agent, page, { 'user-agent': firefox });
    const codes = recoveryCodesOn((await agent.request(confirmed.location!)).html);
    const notice = await mailTo(s.mail, user.email, /second factor was added/);
    expect(notice.subject).toBe('A second factor was added to your Portcullis account');
    expect(notice.text).toContain('A second factor was just added to your Portcullis account: authenticator app.');
    expect(notice.text).toContain('From: Firefox 128 on Linux, IP address 127.0.0.1');
    expect(notice.text).toContain(`${s.t.issuer}/account/security`);
    const mails = await settledMailTo(user.email);
    for (const mail of mails) {
      expect(mail.text).not.toContain(secret);
      for (const code of codes) expect(mail.text).not.toContain(code);
    }
    // The codes that come with a first factor are covered by its notice.
    expect(mails.map((mail) => mail.subject)).toEqual(['A second factor was added to your Portcullis account']);
  });

  it('email codes and a passkey: a notice for each', async () => {
    const user = await createAccount(s.t);
    const { agent, page } = await signedInAt('/account/security', user);
    const confirm = await submitForm(agent, page, '/account/security/email', {});
    await submitForm(agent, confirm, '/account/security/otp/confirm', { code: await emailedCode(s.mail, user.email) });
    expect((await mailTo(s.mail, user.email, /second factor was added/)).text).toContain('account: codes by email.');

    const csrf = passkeyCsrf((await agent.request(at('/account/security'))).html);
    const started = await postJson(agent, at('/account/security/webauthn/options'), {}, csrf);
    type Started = { options: Parameters<SoftAuthenticator['createCredential']>[0]; handle: string };
    const { options, handle } = started.json as Started;
    const response = new SoftAuthenticator(s.t.issuer).createCredential(options);
    const registered = await postJson(agent, at('/account/security/webauthn'), { handle, response, name: 'Key' }, csrf);
    expect(registered.status).toBe(200);
    const mails = await settledMailTo(user.email);
    const added = mails.filter((mail) => /second factor was added/.test(mail.subject ?? ''));
    const named = added.map((mail) => /account: ([^.]+)\./.exec(mail.text!)?.[1]);
    expect(named).toEqual(['codes by email', 'passkey or security key']);
  });

  it('a factor removed, and new recovery codes (never mailed themselves); in French for a French browser', async () => {
    const user = await createAccount(s.t);
    const { agent, page } = await signedInAt('/account/security', user);
    const { factorId, confirmed } = await addTotp(agent, page);
    await agent.request(confirmed.location!);
    const security = () => agent.request(at('/account/security'));
    const regenerated = await submitForm(agent, await security(), '/account/security/recovery-codes', {});
    const codes = recoveryCodesOn(regenerated.html);
    expect(codes).toHaveLength(10);
    const made = await mailTo(s.mail, user.email, /New recovery codes were made/);
    expect(made.text).toContain('The previous codes no longer work.');
    for (const code of codes) expect(made.text).not.toContain(code);

    const french = { 'accept-language': 'fr' };
    const removed = await submitForm(agent, await security(), `/account/security/${factorId}/remove`, {}, french);
    expect(removed.status).toBe(200);
    const notice = await mailTo(s.mail, user.email, /Un second facteur a été supprimé/);
    expect(notice.subject).toBe('Un second facteur a été supprimé de votre compte Portcullis');
    expect(notice.text).toContain('vient d’être supprimé de votre compte Portcullis : application d’authentification.');
    expect(notice.text).toContain('Depuis : un navigateur non reconnu, adresse IP 127.0.0.1');
  });

  it('an email change: the old address is told where the account went, the new one that it gets the mail', async () => {
    const user = await createAccount(s.t);
    const { agent, page } = await signedInAt('/account/email', user);
    const newEmail = uniqueEmail('moved');
    const requested = await submitForm(agent, page, '/account/email', { email: newEmail, password: user.password });
    expect(requested.status).toBe(200);
    const verify = await mailTo(s.mail, newEmail, /Confirm/);
    const { done } = await spendLink(agent, linkIn(s.mail, verify, '/account/email/confirm'));
    expect(done.status).toBe(200);
    const old = await mailTo(s.mail, user.email, /email address of your Portcullis account was changed/);
    expect(old.text).toContain(`was changed to ${newEmail}`);
    expect(old.text).toContain('IP address 127.0.0.1');
    const confirmedMail = await mailTo(s.mail, newEmail, /This is now the email address/);
    expect(confirmedMail.text).toContain(`${newEmail} is now the email address of your Portcullis account.`);
    expect(confirmedMail.text).toContain(`${s.t.issuer}/account/security`);
  });
});

describe('a sign-in from a new device (notifications.newDeviceSignIn)', () => {
  let on: AccountsServer;
  beforeAll(async () => {
    on = await startAccountsServer({ notifications: { newDeviceSignIn: true }, rateLimits: manySignIns });
  });
  afterAll(() => on?.close());

  const newDeviceMails = async (server: AccountsServer, address: string) =>
    (await settledMailTo(address, server)).filter((mail) => /New sign-in/.test(mail.subject ?? ''));

  async function signInWith(server: AccountsServer, agent: BrowserAgent, user: User, headers?: Record<string, string>) {
    const login = await agent.follow(new URL('/account', server.t.issuer));
    const posted = await submitLogin(agent, login, user, {}, headers);
    expect(posted.status, posted.html.slice(0, 300)).toBe(303);
    return posted;
  }

  it('emails on the first sign-in from a cookie jar, not on the next one there; another jar is new again', async () => {
    const user = await createAccount(on.t);
    const laptop = new BrowserAgent();
    const first = await signInWith(on, laptop, user, { 'user-agent': firefox });
    const cookie = first.headers.getSetCookie().find((line) => line.startsWith('pcl.device.'));
    expect(cookie).toMatch(/httponly/i);
    expect(cookie).not.toContain(user.id);
    const [notice] = await newDeviceMails(on, user.email);
    expect(notice!.subject).toBe('New sign-in to your Portcullis account');
    expect(notice!.text).toContain('From: Firefox 128 on Linux, IP address 127.0.0.1');

    // Again on the same browser (a fresh sign-in, prompt=login): known, quiet.
    const { config } = await createRelyingParty(on.t);
    const again = await openPage(laptop, (await authorizationRequest(config, { prompt: 'login' })).url);
    expect((await submitLogin(laptop, again, user)).status).toBe(303);
    expect(await newDeviceMails(on, user.email)).toHaveLength(1);

    await signInWith(on, new BrowserAgent(), user);
    expect(await newDeviceMails(on, user.email)).toHaveLength(2);
  });

  it('binds the cookie to the account: another account signing in on that browser is told', async () => {
    const [alice, bob] = [await createAccount(on.t), await createAccount(on.t)];
    const shared = new BrowserAgent();
    await signInWith(on, shared, alice);
    const { config } = await createRelyingParty(on.t);
    const asBob = await openPage(shared, (await authorizationRequest(config, { prompt: 'login' })).url);
    expect((await submitLogin(shared, asBob, bob)).status).toBe(303);
    expect(await newDeviceMails(on, alice.email)).toHaveLength(1);
    expect(await newDeviceMails(on, bob.email)).toHaveLength(1);
  });

  it('sends nothing and sets no device cookie when the setting is off (the default)', async () => {
    expect(s.t.container.config.notifications.newDeviceSignIn).toBe(false);
    const user = await createAccount(s.t);
    const agent = new BrowserAgent();
    const posted = await signInWith(s, agent, user);
    expect(posted.headers.getSetCookie().some((line) => line.startsWith('pcl.device.'))).toBe(false);
    expect(await newDeviceMails(s, user.email)).toEqual([]);
  });
});
