/**
 * The one second-factor lockout, as a person and a relying party see it: wrong TOTP, recovery,
 * emailed and reset codes and failed passkey assertions all count towards it; the third failure
 * locks the step (429, "too many wrong codes", en + fr), emails the owner and is audited; the
 * right code then waits too; `users unlock` lifts it. The server's Redis is a private
 * redis-server, so the last test can empty it (flushall) and show that no lock (password or second
 * factor) is lost with it.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runCli } from '../../src/cli/index.js';
import { subjectKey } from '../../src/infra/rate-limiter-store.js';
import { BrowserAgent, formValue, type PageResponse } from '../helpers/browser-agent.js';
import {
  auditEvents, authorizationRequest, createRelyingParty, emailedCode, finishAtCallback, linkIn, mailTo, messagesTo,
  openPage, passkeyCsrf, postJson, spendLink, startAccountsServer, strongPassword, submitForm, submitLogin, totpCode,
  uniqueEmail, type AccountsServer, advanceClock, nextTotp,
} from '../helpers/accounts-fixtures.js';
import { startPrivateRedis, type PrivateRedis } from '../helpers/private-redis.js';
import { SoftAuthenticator } from '../helpers/soft-authenticator.js';

const context = { locale: 'en' as const };
const lockout = { threshold: 3, baseSeconds: 900, multiplier: 2, maxSeconds: 86400, maxConsecutiveFailures: 100 };
const keyPrefix = `sfl-${randomBytes(4).toString('hex')}:`;
let s: AccountsServer;
let redis: PrivateRedis;
let rp: Awaited<ReturnType<typeof createRelyingParty>>;

beforeAll(async () => {
  vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true });
  redis = await startPrivateRedis();
  s = await startAccountsServer({
    redisUrl: redis.url, redis: { keyPrefix },
    mfa: { lockout },
    rateLimits: {
      loginPerIp: { points: 1000, durationSeconds: 60 }, mfaPerAccount: { points: 1000, durationSeconds: 60 },
      resetPerIp: { points: 1000, durationSeconds: 3600 }, resetPerAccount: { points: 1000, durationSeconds: 3600 },
    },
  });
  rp = await createRelyingParty(s.t);
});
afterAll(async () => {
  await s?.close();
  await redis?.stop();
  vi.useRealTimers();
});

const at = (path: string) => new URL(path, s.t.issuer);
const advance = advanceClock;

type User = { id: string; email: string; password: string };

async function newUser(): Promise<User> {
  const email = uniqueEmail('sfl');
  const password = strongPassword();
  const account = await s.t.container.accounts.create({ email, password, verified: true }, 'test');
  return { id: account.id, email, password };
}

async function withTotp(user: User) {
  const enrolment = await s.t.container.mfa.startTotp(user.id, user.email);
  const { recoveryCodes } = await s.t.container.mfa.confirmTotp(
    user.id,
    enrolment.factorId,
    await totpCode(enrolment.secret),
    context,
  );
  return { secret: enrolment.secret, recoveryCodes: recoveryCodes! };
}

async function passwordStep(agent: BrowserAgent, user: User, headers?: Record<string, string>) {
  const request = await authorizationRequest(rp.config);
  const login = await openPage(agent, request.url);
  return { request, page: await submitLogin(agent, login, user, {}, headers) };
}

const uidOf = (page: PageResponse) => /\/interaction\/([\w-]+)\//.exec(page.html)![1]!;
function answerChallenge(
  agent: BrowserAgent,
  page: PageResponse,
  fields: Record<string, string>,
  headers?: Record<string, string>,
) {
  return agent.request(at(`/interaction/${uidOf(page)}/mfa`), {
    form: { csrf: formValue(page.html, 'csrf')!, ...fields },
    headers,
  });
}
const heading = (html: string) => /<h1[^>]*>([^<]*)<\/h1>/.exec(html)?.[1]?.trim();
const lockEvents = async (user: User) =>
  (await auditEvents(s.t, user.id)).filter((event) => event.type === 'mfa.locked');

async function cli(argv: string[]) {
  const err: string[] = [];
  // The CLI reads the same private Redis as the server.
  const env = { ...s.t.env, REDIS_URL: redis.url, REDIS_KEY_PREFIX: keyPrefix };
  const code = await runCli(argv, { env, write: () => {}, writeError: (text) => err.push(text) });
  expect(code, err.join('\n')).toBe(0);
}

/** The third wrong TOTP code of a sign-in: the page that answers it. */
async function lockWithTotp(user: User, agent = new BrowserAgent()) {
  const { page } = await passwordStep(agent, user);
  const answers: PageResponse[] = [];
  for (let i = 0; i < 3; i++) answers.push(await answerChallenge(agent, page, { method: 'totp', code: '000000' }));
  return { agent, page, answers };
}

describe('second-factor lockout at sign-in', () => {
  it('locks the step after three wrong TOTP codes: 429 with Retry-After, the right code waits too, the owner is emailed', async () => {
    const user = await newUser();
    const { secret } = await withTotp(user);
    const { agent, page, answers } = await lockWithTotp(user);
    expect(answers.map((a) => a.status)).toEqual([400, 400, 429]);
    const locked = answers[2]!;
    expect(locked.headers.get('retry-after')).toBe('900');
    expect(heading(locked.html)).toBe('Too many wrong codes');
    expect(locked.html).toContain('Try again in about 15 minutes');

    const right = await answerChallenge(agent, page, { method: 'totp', code: await nextTotp(secret) });
    expect(right.status).toBe(429);
    expect(Number(right.headers.get('retry-after'))).toBeLessThanOrEqual(900);

    const message = await mailTo(s.mail, user.email, /Too many wrong codes/);
    expect(message.text).toContain('It unlocks automatically in 15 minutes.');
    expect(message.text).toContain('someone knows your password');
    expect(linkIn(s.mail, message, '/forgot-password').origin).toBe(new URL(s.t.issuer).origin);
    expect(await lockEvents(user)).toEqual([
      expect.objectContaining({
        ip: '127.0.0.1',
        client_id: rp.clientId,
        details: { factorType: 'totp', lockSeconds: 900, permanent: false },
      }),
    ]);
    // One email per lock, however many attempts meet it.
    expect(messagesTo(s.mail, user.email).filter((m) => /Too many wrong codes/.test(m.subject ?? ''))).toHaveLength(1);
  });

  it('counts wrong recovery codes the same way, and speaks French to a French browser (page and email)', async () => {
    const user = await newUser();
    const { recoveryCodes } = await withTotp(user);
    const agent = new BrowserAgent();
    const fr = { 'accept-language': 'fr' };
    const { page } = await passwordStep(agent, user, fr);
    const answers: PageResponse[] = [];
    for (let i = 0; i < 3; i++)
      answers.push(await answerChallenge(agent, page, { method: 'recovery', code: `wrong-${i}-code` }, fr));
    expect(answers.map((a) => a.status)).toEqual([400, 400, 429]);
    expect(heading(answers[2]!.html)).toBe('Trop de codes erronés');
    expect(answers[2]!.html).toContain('Réessayez dans environ 15 minutes');
    // A right recovery code is refused too, and not spent.
    expect((await answerChallenge(agent, page, { method: 'recovery', code: recoveryCodes[0]! }, fr)).status).toBe(429);
    expect(await s.t.container.mfa.remainingRecoveryCodes(user.id)).toBe(10);
    const message = await mailTo(s.mail, user.email, /Trop de codes erronés/);
    expect(message.text).toContain('Elle sera déverrouillée automatiquement dans 15 minutes.');
    expect((await lockEvents(user))[0]!.details).toMatchObject({ factorType: 'recovery' });
  });

  it('counts wrong emailed codes the same way', async () => {
    const user = await newUser();
    const { factorId } = await s.t.container.otp.enrolEmail(user.id, context);
    await s.t.container.otp.confirm(user.id, factorId, await emailedCode(s.mail, user.email), context);
    advance(31);
    const agent = new BrowserAgent();
    const { page } = await passwordStep(agent, user);
    const sent = await submitForm(agent, page, '/mfa/send', {});
    expect(sent.status).toBe(200);
    const answers: PageResponse[] = [];
    for (let i = 0; i < 3; i++)
      answers.push(await answerChallenge(agent, sent, { method: 'otp', factorId, code: '000000' }));
    expect(answers.map((a) => a.status)).toEqual([400, 400, 429]);
    expect(heading(answers[2]!.html)).toBe('Too many wrong codes');
    expect((await lockEvents(user))[0]!.details).toMatchObject({ factorType: 'otp', lockSeconds: 900 });
  });

  it('counts failed passkey assertions in the second-factor step; the JSON answer is 429 too_many_attempts', async () => {
    const user = await newUser();
    const key = new SoftAuthenticator(s.t.issuer);
    const { options: regOptions, handle: regHandle } = await s.t.container.webauthn.registrationOptions(user, []);
    await s.t.container.webauthn.finishRegistration(
      user.id,
      regHandle,
      key.createCredential(regOptions),
      'Desk key',
      context,
    );
    const agent = new BrowserAgent();
    const { request, page } = await passwordStep(agent, user);
    const uid = uidOf(page);
    const csrf = passkeyCsrf(page.html);
    type RequestOptions = Parameters<SoftAuthenticator['getAssertion']>[0];
    const ceremony = async () =>
      (await postJson(agent, at(`/interaction/${uid}/mfa/webauthn/options`), {}, csrf)).json as {
        options: RequestOptions;
        handle: string;
      };
    const answers = [];
    for (let i = 0; i < 3; i++) {
      // An assertion signed for another ceremony's challenge: a real key, the wrong proof.
      const [signed, posted] = [await ceremony(), await ceremony()];
      answers.push(
        await postJson(
          agent,
          at(`/interaction/${uid}/mfa/webauthn`),
          { handle: posted.handle, response: key.getAssertion(signed.options) },
          csrf,
        ),
      );
    }
    expect(answers.map((a) => a.status)).toEqual([400, 400, 429]);
    expect(answers[2]!.json).toMatchObject({ error: 'too_many_attempts' });
    expect(String(answers[2]!.json.error_description)).toContain('too many wrong codes');
    expect(answers[2]!.headers.get('retry-after')).toBe('900');
    const good = await ceremony();
    const refused = await postJson(
      agent,
      at(`/interaction/${uid}/mfa/webauthn`),
      { handle: good.handle, response: key.getAssertion(good.options) },
      csrf,
    );
    expect(refused.status).toBe(429);
    expect((await lockEvents(user))[0]!.details).toMatchObject({ factorType: 'webauthn' });

    // `users unlock` lifts the second-factor lock; the passkey then finishes the sign-in.
    await cli(['users', 'unlock', user.email]);
    const after = await ceremony();
    const finish = await postJson(
      agent,
      at(`/interaction/${uid}/mfa/webauthn`),
      { handle: after.handle, response: key.getAssertion(after.options) },
      csrf,
    );
    expect(finish.status).toBe(200);
    const tokens = await request.redeem(
      await finishAtCallback(agent, {
        status: 303,
        location: new URL(String(finish.json.redirect), s.t.issuer),
        url: at('/'),
        html: '',
        headers: new Headers(),
      }),
    );
    expect(tokens.claims()!.amr).toEqual(['pwd', 'hwk', 'mfa']);
  });

  it('is one counter over every kind, the reset page included: the reset locks, keeps its link, and opens after users unlock', async () => {
    const user = await newUser();
    const { secret } = await withTotp(user);
    const agent = new BrowserAgent();
    const { page } = await passwordStep(agent, user);
    expect((await answerChallenge(agent, page, { method: 'totp', code: '000000' })).status).toBe(400);
    expect((await answerChallenge(agent, page, { method: 'recovery', code: 'not-a-code' })).status).toBe(400);

    await submitForm(agent, await agent.request(at('/forgot-password')), '/forgot-password', { email: user.email });
    const link = linkIn(s.mail, await mailTo(s.mail, user.email, /Reset your/), '/reset-password');
    const reset = await agent.request(link);
    const password = strongPassword();
    const locked = await submitForm(agent, reset, '/reset-password', { password, code: '000000' });
    expect(locked.status).toBe(429);
    expect(heading(locked.html)).toBe('Too many wrong codes');
    expect((await lockEvents(user))[0]!.details).toMatchObject({ factorType: 'reset_code' });
    const right = await submitForm(agent, await agent.request(link), '/reset-password', {
      password,
      code: await nextTotp(secret),
    });
    expect(right.status).toBe(429);
    expect(await s.t.container.accounts.authenticate(user.email, user.password, {})).toBeDefined();

    await cli(['users', 'unlock', user.email]);
    const done = await submitForm(agent, await agent.request(link), '/reset-password', {
      password,
      code: await nextTotp(secret),
    });
    expect(done.status).toBe(200);
    expect(done.html).toContain('Password changed');
  });

  it('a success starts the count again', async () => {
    const user = await newUser();
    const { secret } = await withTotp(user);
    const agent = new BrowserAgent();
    const { page } = await passwordStep(agent, user);
    for (let i = 0; i < 2; i++)
      expect((await answerChallenge(agent, page, { method: 'totp', code: '000000' })).status).toBe(400);
    expect((await answerChallenge(agent, page, { method: 'totp', code: await nextTotp(secret) })).status).toBe(303);
    const again = new BrowserAgent();
    const { page: next } = await passwordStep(again, user);
    for (let i = 0; i < 2; i++)
      expect((await answerChallenge(again, next, { method: 'totp', code: '000000' })).status).toBe(400);
    expect(await lockEvents(user)).toEqual([]);
  });
});

describe('Redis restarting empty', () => {
  it('unlocks nothing: a password lock and a second-factor lock survive emptying Redis; the unlock link and users unlock lift them', async () => {
    const passwordUser = await newUser();
    const mfaUser = await newUser();
    const { secret } = await withTotp(mfaUser);

    const agent = new BrowserAgent();
    const login = await openPage(agent, (await authorizationRequest(rp.config)).url);
    const wrong = [];
    for (let i = 0; i < 5; i++)
      wrong.push(await submitLogin(agent, login, { email: passwordUser.email, password: strongPassword() }));
    expect(wrong.map((a) => a.status)).toEqual([400, 400, 400, 400, 429]);
    expect((await lockWithTotp(mfaUser)).answers.map((a) => a.status)).toEqual([400, 400, 429]);
    const records = () =>
      s.t.container.dataSource.query(
        'SELECT purpose, level, locked_until IS NOT NULL AS timed FROM lockout_records WHERE subject_key = ANY($1) ' +
        'ORDER BY purpose',
        [[subjectKey(passwordUser.email), subjectKey(mfaUser.id)]],
      ) as Promise<Array<Record<string, unknown>>>;
    expect(await records()).toEqual([
      { purpose: 'login', level: 1, timed: true },
      { purpose: 'mfa', level: 1, timed: true },
    ]);

    expect(await redis.admin.flushall()).toBe('OK');
    expect(await redis.admin.dbsize()).toBe(0);

    // Fresh sign-ins (the flush took the old interactions): both locks still hold.
    const fresh = new BrowserAgent();
    const passwordAgain = await submitLogin(
      fresh,
      await openPage(fresh, (await authorizationRequest(rp.config)).url),
      passwordUser,
    );
    expect(passwordAgain.status).toBe(429);
    expect(Number(passwordAgain.headers.get('retry-after'))).toBeGreaterThan(800);
    const mfaAgent = new BrowserAgent();
    const { page } = await passwordStep(mfaAgent, mfaUser);
    const mfaAgain = await answerChallenge(mfaAgent, page, { method: 'totp', code: await nextTotp(secret) });
    expect(mfaAgain.status).toBe(429);
    expect(heading(mfaAgain.html)).toBe('Too many wrong codes');

    // The emailed unlock link lifts the password lock; users unlock the second-factor lock.
    const unlockLink = linkIn(s.mail, await mailTo(s.mail, passwordUser.email, /temporarily locked/), '/unlock');
    expect((await spendLink(new BrowserAgent(), unlockLink)).done.status).toBe(200);
    const signedIn = new BrowserAgent();
    expect(
      (await submitLogin(signedIn, await openPage(signedIn, (await authorizationRequest(rp.config)).url), passwordUser))
        .status,
    ).toBe(303);
    await cli(['users', 'unlock', mfaUser.email]);
    const after = new BrowserAgent();
    const { page: challenge } = await passwordStep(after, mfaUser);
    expect((await answerChallenge(after, challenge, { method: 'totp', code: await nextTotp(secret) })).status).toBe(
      303,
    );
    expect(await records()).toEqual([]);
  });
});
