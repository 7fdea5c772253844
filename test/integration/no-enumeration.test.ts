/**
 * No flow reveals whether an account exists, by content or by time. The rule the flows follow:
 * the request path does the same work for a known and an unknown identifier, and the
 * account-specific work happens after the answer, from the outbox. Tested deterministically by
 * counting, per request, the SQL statements and Redis commands the request itself sent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BrowserAgent, formValue, type PageResponse } from '../helpers/browser-agent.js';
import {
  authorizationRequest, createAccount, createRelyingParty, mailTo, normalisePage, openPage, passkeyCsrf, postJson,
  signInToAccount, strongPassword, submitForm, submitLogin, uniqueEmail,
} from '../helpers/accounts-fixtures.js';
import { requestCounter, type RequestWork } from '../helpers/request-counter.js';
import { startSmtpReceiver, type SmtpReceiver } from '../helpers/smtp-receiver.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

const counter = requestCounter();
let t: TestServer;
let mail: SmtpReceiver;
let rp: Awaited<ReturnType<typeof createRelyingParty>>;

beforeAll(async () => {
  mail = await startSmtpReceiver();
  t = await startTestServer({ smtpUrl: mail.url, captcha: { provider: 'none' } }, { wrapHandler: counter.wrap });
  rp = await createRelyingParty(t);
});
afterAll(async () => {
  await t?.close();
  await mail?.close();
});

const at = (path: string) => new URL(path, t.issuer);

/** The login page of a fresh authorization request, in a fresh browser. */
async function loginPage() {
  const agent = new BrowserAgent();
  const page = await openPage(agent, (await authorizationRequest(rp.config)).url);
  expect(page.status).toBe(200);
  return { agent, page, uid: page.url.pathname.split('/')[2]! };
}

interface Outcome { response: PageResponse; work: RequestWork }

/** Headers as a browser would compare them: dates, cookie values and nonces vary per request by design. */
function comparableHeaders(response: PageResponse): Record<string, string> {
  const out: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    if (name === 'date' || name === 'x-request-id') return;
    out[name] = name === 'set-cookie' ? response.headers.getSetCookie().map((line) => line.split('=')[0]).join(',')
      : value.replace(/'nonce-[^']+'/g, "'nonce-N'");
  });
  return out;
}

/** Two outcomes that must not be told apart: same status, page, headers, statement and command counts. */
function expectIndistinguishable(known: Outcome, unknown: Outcome, identifiers: [string[], string[]]) {
  expect(unknown.response.status).toBe(known.response.status);
  expect(normalisePage(unknown.response.html, ...identifiers[1])).toBe(
    normalisePage(known.response.html, ...identifiers[0]),
  );
  expect(comparableHeaders(unknown.response)).toEqual(comparableHeaders(known.response));
  // Printed whole on failure, so the extra statement or command is named.
  expect({
    sql: unknown.work.sql.length,
    redis: unknown.work.redis.length,
    statements: unknown.work.sql,
    commands: unknown.work.redis,
  }).toEqual({
    sql: known.work.sql.length,
    redis: known.work.redis.length,
    statements: expect.any(Array),
    commands: expect.any(Array),
  });
  expect(known.work.sql.length).toBeGreaterThan(0);
}

/** Each flow: one request for an identifier; `prepare` makes the known identifier known. */
interface Flow {
  name: string;
  /** Returns the identifier that has an account (and anything the run needs). */
  known(): Promise<string>;
  run(identifier: string): Promise<Outcome>;
  /** What the owner of the known identifier receives afterwards (proves the work did happen, after the answer). */
  mailed?: RegExp;
}

async function forgotPassword(email: string): Promise<Outcome> {
  const agent = new BrowserAgent();
  const page = await agent.request(at('/forgot-password'));
  const response = await submitForm(agent, page, '/forgot-password', { email });
  return { response, work: counter.last('POST', '/forgot-password') };
}

async function resend(email: string): Promise<Outcome> {
  const { agent, page, uid } = await loginPage();
  const response = await agent.request(at(`/interaction/${uid}/resend`), {
    form: { csrf: formValue(page.html, 'csrf')!, email },
  });
  return { response, work: counter.last('POST', `/interaction/${uid}/resend`) };
}

async function register(email: string): Promise<Outcome> {
  const { agent, uid } = await loginPage();
  const form = await agent.request(at(`/interaction/${uid}/register`));
  const response = await submitForm(agent, form, '/register', {
    name: 'Sam Example',
    email,
    password: strongPassword(),
  });
  return { response, work: counter.last('POST', `/interaction/${uid}/register`) };
}

async function wrongPassword(email: string): Promise<Outcome> {
  const { agent, page, uid } = await loginPage();
  const response = await submitLogin(agent, page, { email, password: strongPassword() });
  return { response, work: counter.last('POST', `/interaction/${uid}/login`) };
}

/** The failure that places the lock (the owner of a known address is then emailed an unlock link). */
async function lockingFailure(email: string): Promise<Outcome> {
  for (let i = 1; i < 5; i += 1) expect((await wrongPassword(email)).response.status).toBe(400);
  const locking = await wrongPassword(email);
  expect(locking.response.status).toBe(429);
  return locking;
}

const flows: Flow[] = [
  {
    name: 'forgot password',
    known: async () => (await createAccount(t, { email: uniqueEmail('known') })).email,
    run: forgotPassword,
    mailed: /Reset your .* password/,
  },
  {
    name: 'resend verification',
    known: async () => (await createAccount(t, { email: uniqueEmail('known'), verified: false })).email,
    run: resend,
    mailed: /Confirm your email address/,
  },
  {
    name: 'registration',
    known: async () => (await createAccount(t, { email: uniqueEmail('known') })).email,
    run: register,
    mailed: /You already have an account/,
  },
  {
    name: 'login with a wrong password',
    known: async () => (await createAccount(t, { email: uniqueEmail('known') })).email,
    run: wrongPassword,
  },
  {
    name: 'lockout (unlock link)',
    known: async () => (await createAccount(t, { email: uniqueEmail('known') })).email,
    run: lockingFailure,
    mailed: /temporarily locked/,
  },
];

describe('known and unknown identifiers cost the request path the same', () => {
  it.each(flows)('$name', async (flow) => {
    const knownEmail = await flow.known();
    // The same label, so both addresses have the same length and the pages the same size.
    const unknownEmail = uniqueEmail('known');
    const known = await flow.run(knownEmail);
    const unknown = await flow.run(unknownEmail);
    expectIndistinguishable(known, unknown, [[knownEmail], [unknownEmail]]);
    // The account-specific work did happen, after the answer: the owner got mail, the stranger nothing.
    if (flow.mailed) await mailTo(mail, knownEmail, flow.mailed);
    expect(mail.messages.filter((m) => JSON.stringify(m.to).includes(unknownEmail))).toEqual([]);
  });

  it('email change: a taken new address and a free one', async () => {
    const taken = (await createAccount(t, { email: uniqueEmail('taken') })).email;
    const free = uniqueEmail('taken');
    const changers = [uniqueEmail('changer'), uniqueEmail('changer')];
    const change = async (newEmail: string, email: string): Promise<Outcome> => {
      const user = await createAccount(t, { email });
      const agent = new BrowserAgent();
      const page = await signInToAccount(agent, t.issuer, user, '/account/email');
      expect(page.status).toBe(200);
      const response = await submitForm(agent, page, '/account/email', { email: newEmail, password: user.password });
      return { response, work: counter.last('POST', '/account/email') };
    };
    const known = await change(taken, changers[0]!);
    const unknown = await change(free, changers[1]!);
    expectIndistinguishable(known, unknown, [[taken, changers[0]!], [free, changers[1]!]]);
    await mailTo(mail, taken, /You already have an account/);
    await mailTo(mail, free, /Confirm your new email address/);
  });

  it('passkey start: the options name no account, whoever asks', async () => {
    await createAccount(t, { email: uniqueEmail('passkey') });
    const options = async () => {
      const { agent, page, uid } = await loginPage();
      const answer = await postJson(agent, at(`/interaction/${uid}/passkey/options`), {}, passkeyCsrf(page.html));
      return { answer, work: counter.last('POST', `/interaction/${uid}/passkey/options`) };
    };
    const first = await options();
    const second = await options();
    expect(first.answer.status).toBe(200);
    // Discoverable credentials: the browser offers what it holds; the server lists nothing.
    expect(first.answer.json.allowCredentials ?? []).toEqual([]);
    expect(Object.keys(second.answer.json).sort()).toEqual(Object.keys(first.answer.json).sort());
    expect(second.work.sql.length).toBe(first.work.sql.length);
    expect(second.work.redis.length).toBe(first.work.redis.length);
  });
});
