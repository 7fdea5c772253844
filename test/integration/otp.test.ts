import { createHash, createHmac, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccountNotifier } from '../../src/accounts/account-notifier.js';
import type { FlowContext } from '../../src/accounts/account-flow-deps.js';
import { loadConfig } from '../../src/config/load-config.js';
import { createEmailRenderer } from '../../src/email/email-renderer.js';
import { outboxCommitSubscriber } from '../../src/outbox/outbox-repository.js';
import { createOutboxWorker, type OutboxWorker } from '../../src/outbox/outbox-worker.js';
import { registerOutboxHandlers } from '../../src/outbox/register-handlers.js';
import { openDataSource, type DataSource } from '../../src/infra/data-source.js';
import { createMailer, type Mailer } from '../../src/infra/email.js';
import { createSmsSender, webhookSignature } from '../../src/infra/sms.js';
import { createDatabase, type Database } from '../../src/infra/unit-of-work.js';
import { createOtpChallengeRepository } from '../../src/mfa/otp-challenge-repository.js';
import { createOtpService, otpAmr, otpCodeHasher, type OtpRepositories, type OtpService } from '../../src/mfa/otp-service.js';
import { recoveryCodeHasher } from '../../src/mfa/recovery-codes.js';
import { entities, repositoriesFor } from '../../src/repositories.js';
import { startSmtpReceiver, type ParsedMail, type SmtpReceiver } from '../helpers/smtp-receiver.js';
import { eventually } from '../helpers/eventually.js';
import { createTestDatabase } from '../helpers/test-database.js';

const hashKey = randomBytes(32).toString('hex');
const webhookSecret = randomBytes(24).toString('hex');
const context: FlowContext = { ip: '192.0.2.7', userAgent: 'OtpTest/1.0', locale: 'en' };

let dataSource: DataSource;
let db: Database<OtpRepositories>;
let smtp: SmtpReceiver;
let mailer: Mailer;
let smsHook: { url: string; texts: Array<{ to: string; text: string }>; failNext: boolean; close(): Promise<void> };
let service: OtpService;
let worker: OutboxWorker<OtpRepositories>;
const outboxSettings = loadConfig({ env: { NODE_ENV: 'test' } }).outbox;
// The service's clock: tests move it instead of sleeping.
let clock = new Date();
const tick = (seconds: number) => { clock = new Date(clock.getTime() + seconds * 1000); };

/** A loopback SMS webhook receiver that checks every signature, as a real one would. */
async function startSmsHook(): Promise<typeof smsHook> {
  const state = { texts: [] as Array<{ to: string; text: string }>, failNext: false };
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => { body += chunk; });
    req.on('end', () => {
      const timestamp = req.headers['x-portcullis-timestamp'] as string;
      if (req.headers['x-portcullis-signature'] !== webhookSignature(webhookSecret, timestamp, body)) return void res.writeHead(401).end();
      if (state.failNext) {
        state.failNext = false;
        return void res.writeHead(502).end();
      }
      const { to, text } = JSON.parse(body) as { to: string; text: string };
      state.texts.push({ to, text });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return Object.assign(state, {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/sms`,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  });
}

beforeAll(async () => {
  dataSource = await openDataSource({ url: (await createTestDatabase()).url, poolSize: 12, entities, migrations: [] });
  db = createDatabase(dataSource, (manager) => ({ ...repositoriesFor(manager), otpChallenges: createOtpChallengeRepository(manager) }));
  smtp = await startSmtpReceiver();
  smsHook = await startSmsHook();
  const logger = pino({ level: 'silent' });
  mailer = createMailer({ smtpUrl: smtp.url, mailFrom: 'Portcullis <no-reply@id.example.test>', dataDir: os.tmpdir(), logger });
  const renderer = createEmailRenderer({ productName: 'Portcullis Test', issuer: 'https://id.example.test' });
  // Codes leave through the outbox: a worker delivers them as the server's would, retrying quickly here.
  dataSource.subscribers.push(outboxCommitSubscriber);
  worker = createOutboxWorker({
    db,
    logger,
    settings: { ...outboxSettings, pollIntervalSeconds: 0.05, backoffBaseSeconds: 0.05 },
  });
  registerOutboxHandlers(worker, {
    mailer, renderer, jobs: [],
    sms: createSmsSender({ provider: 'webhook', url: smsHook.url, secret: webhookSecret, timeoutMs: 5000 }, { logger }),
  });
  worker.start();
  service = createOtpService({
    db, notifier: createAccountNotifier({ db, logger }),
    hashCode: otpCodeHasher(hashKey), hashRecoveryCode: recoveryCodeHasher('recovery-key'),
    productName: 'Portcullis Test', issuer: 'https://id.example.test', now: () => clock,
  });
});

afterAll(async () => {
  await worker?.stop();
  mailer?.close();
  await smtp?.close();
  await smsHook?.close();
  await dataSource?.destroy();
});

async function newAccount() {
  const email = `otp.${randomBytes(4).toString('hex')}@example.test`;
  const account = await db.repos.accounts.insert({ email, emailVerified: true, passwordHash: null, name: null });
  return { id: account.id, email };
}

const seenMail = new Set<string>();
/** The code in the next email to `address` that this test file hasn't read yet. */
async function nextEmailCode(address: string): Promise<{ code: string; mail: ParsedMail }> {
  const recipient = (mail: ParsedMail) => (mail.to && !Array.isArray(mail.to) ? mail.to.value[0]?.address : undefined);
  const mail = await smtp.waitFor((m) => recipient(m) === address && !seenMail.has(m.messageId!));
  seenMail.add(mail.messageId!);
  return { code: /^\s+(\d{6})$/m.exec(mail.text ?? '')![1]!, mail };
}

const smsSeen = new Map<string, number>();
/** The code in the next text message to `to` that this test file hasn't read yet (the worker delivers it). */
async function nextSmsCode(to: string): Promise<string> {
  const seen = smsSeen.get(to) ?? 0;
  const texts = await eventually(
    async () => smsHook.texts.filter((message) => message.to === to),
    (list) => list.length > seen,
  );
  smsSeen.set(to, texts.length);
  return /^(\d{6}) /.exec(texts.at(-1)!.text)![1]!;
}

const uniquePhone = () => `+4477009${String(randomBytes(3).readUIntBE(0, 3) % 100_000).padStart(5, '0')}`;

/** An account with a confirmed SMS factor; the clock is moved past the resend gap. */
async function withSmsFactor() {
  const account = await newAccount();
  const phone = uniquePhone();
  const { factorId } = await service.enrolSms(account.id, phone, context);
  await service.confirm(account.id, factorId, await nextSmsCode(phone), context);
  tick(31);
  return { account, phone, factorId };
}

const auditTypes = async (accountId: string) => (await db.repos.audit.listForAccount(accountId, { limit: 100 })).reverse();
const challengeRows = (factorId: string) => dataSource.query(
  `SELECT id, code_hash, attempts, consumed_at FROM otp_challenges WHERE factor_id = $1 ORDER BY created_at`, [factorId]) as Promise<Array<{ id: string; code_hash: string; attempts: number; consumed_at: Date | null }>>;
const wrong = (code: string) => String((Number(code) + 1) % 1_000_000).padStart(6, '0');

describe('email one-time codes', () => {
  it('enrols through a real SMTP delivery, then passes a sign-in code exactly once', async () => {
    const account = await newAccount();
    const sent = await service.enrolEmail(account.id, context);
    expect(sent.sentTo).toBe(`o•••@example.test`);
    expect(sent.expiresAt.getTime() - clock.getTime()).toBe(600_000);
    const { code, mail } = await nextEmailCode(account.email);
    expect(mail.subject).toBe('Your Portcullis Test verification code');
    expect(mail.text).toContain('expires in 10 minutes');
    expect(typeof mail.html === 'string' && mail.html).toContain(code);

    await expect(service.confirm(account.id, sent.factorId, wrong(code), context)).rejects.toMatchObject({ code: 'mfa_code_invalid', status: 400 });
    const { recoveryCodes } = await service.confirm(account.id, sent.factorId, code, context);
    expect(recoveryCodes).toHaveLength(10);
    expect((await db.repos.mfaFactors.findById(account.id, sent.factorId))?.confirmedAt).toBeInstanceOf(Date);

    tick(31);
    await service.sendCode(account.id, sent.factorId, context);
    const signIn = (await nextEmailCode(account.email)).code;
    expect(await service.verifyCode(account.id, sent.factorId, code, context)).toBe(false); // the enrolment code is spent
    tick(31);
    await service.sendCode(account.id, sent.factorId, context);
    const latest = (await nextEmailCode(account.email)).code;
    // A new code supersedes the previous one.
    expect(await service.verifyCode(account.id, sent.factorId, signIn, context)).toBe(signIn === latest);
    expect(await service.verifyCode(account.id, sent.factorId, latest, context)).toBe(signIn !== latest);
    expect(await service.verifyCode(account.id, sent.factorId, latest, context)).toBe(false);
    expect(otpAmr('email')).toBe('otp');

    const events = (await auditTypes(account.id)).filter((event) => event.type.startsWith('mfa.'));
    expect(events.map((event) => event.type)).toEqual([
      'mfa.code_issued', 'mfa.enrolment_failed', 'mfa.enrolled', 'mfa.code_issued', 'mfa.challenge_failed',
      'mfa.code_issued', signIn === latest ? 'mfa.challenge_passed' : 'mfa.challenge_failed',
      signIn === latest ? 'mfa.challenge_failed' : 'mfa.challenge_passed', 'mfa.challenge_failed',
    ]);
    expect(events.find((event) => event.type === 'mfa.challenge_passed')).toMatchObject({ ip: '192.0.2.7', details: { factorId: sent.factorId, factorType: 'email' } });
    expect(JSON.stringify(events)).not.toContain(latest);
  });
});

describe('SMS one-time codes through the webhook provider', () => {
  it('enrols a normalised number, texts signed codes, and passes the right one once', async () => {
    const account = await newAccount();
    const sent = await service.enrolSms(account.id, '+44 (0)7700-900 456'.replace('(0)', ''), context);
    expect(sent.sentTo).toBe('+44••••••••56');
    const factor = await db.repos.mfaFactors.findById(account.id, sent.factorId);
    expect(factor).toMatchObject({ type: 'sms', phone: '+447700900456', confirmedAt: null });
    const code = await nextSmsCode('+447700900456');
    const text = smsHook.texts.at(-1)!;
    expect(text.to).toBe('+447700900456');
    expect(text.text).toBe(`${code} is your Portcullis Test verification code. It expires in 10 minutes. Never share it.\n\n@id.example.test #${code}`);
    await service.confirm(account.id, sent.factorId, code, context);

    tick(31);
    await service.sendCode(account.id, sent.factorId, context);
    const signIn = await nextSmsCode('+447700900456');
    expect(await service.verifyCode(account.id, sent.factorId, ` ${signIn.slice(0, 3)} ${signIn.slice(3)} `, context)).toBe(true);
    expect(await service.verifyCode(account.id, sent.factorId, signIn, context)).toBe(false);
    expect(otpAmr('sms')).toBe('sms');
    expect((await db.repos.mfaFactors.findById(account.id, sent.factorId))?.lastUsedAt).toBeInstanceOf(Date);
  });

  it('refuses a number that is not in international format, and creates nothing', async () => {
    const account = await newAccount();
    for (const phone of ['07700 900123', '+0 7700 900123', 'call me', '+12345']) {
      await expect(service.enrolSms(account.id, phone, context)).rejects.toMatchObject({ code: 'invalid_phone', status: 400 });
    }
    expect(await dataSource.query(`SELECT id FROM mfa_factors WHERE account_id = $1`, [account.id])).toEqual([]);
  });

  it('retries a text the provider refused, delivers it once, and audits queued then delivered', async () => {
    const { account, phone, factorId } = await withSmsFactor();
    smsHook.failNext = true;
    await service.sendCode(account.id, factorId, context);
    const code = await nextSmsCode(phone);
    expect(await service.verifyCode(account.id, factorId, code, context)).toBe(true);
    const [row] = await dataSource.query(
      `SELECT status, attempts, last_error FROM outbox_messages WHERE kind = 'sms' AND account_id = $1 ORDER BY ` +
      `created_at DESC LIMIT 1`,
      [account.id],
    );
    expect(row).toMatchObject({ status: 'delivered', attempts: 2, last_error: null });
    const events = await eventually(
      () => auditTypes(account.id),
      (list) => list.filter((e) => e.type === 'sms.delivered').length === 2,
    );
    expect(events.filter((e) => e.type === 'sms.queued')).toHaveLength(2);
    // A refused attempt is not an event: only the final outcome is.
    expect(JSON.stringify(events)).not.toContain(code);
  });
});

describe('attempt limits', () => {
  it('kills a code after five wrong guesses, even if the sixth is right; a new code works', async () => {
    const { account, phone, factorId } = await withSmsFactor();
    await service.sendCode(account.id, factorId, context);
    const code = await nextSmsCode(phone);
    for (let i = 0; i < 5; i += 1) expect(await service.verifyCode(account.id, factorId, wrong(code), context)).toBe(false);
    expect(await service.verifyCode(account.id, factorId, code, context)).toBe(false);
    expect((await challengeRows(factorId)).at(-1)).toMatchObject({ attempts: 5, consumed_at: null });
    const failures = (await auditTypes(account.id)).filter((event) => event.type === 'mfa.challenge_failed');
    expect(failures.map((event) => event.details.reason)).toEqual(['mismatched', 'mismatched', 'mismatched', 'mismatched', 'mismatched', 'unavailable']);

    tick(31);
    await service.sendCode(account.id, factorId, context);
    expect(await service.verifyCode(account.id, factorId, await nextSmsCode(phone), context)).toBe(true);
  });

  it('never counts more than five attempts under parallel guessing', async () => {
    const { account, phone, factorId } = await withSmsFactor();
    await service.sendCode(account.id, factorId, context);
    const code = await nextSmsCode(phone);
    const guesses = Array.from({ length: 12 }, (_, i) => String((Number(code) + 1 + i) % 1_000_000).padStart(6, '0'));
    expect(await Promise.all(guesses.map((guess) => service.verifyCode(account.id, factorId, guess, context)))).toEqual(guesses.map(() => false));
    expect((await challengeRows(factorId)).at(-1)).toMatchObject({ attempts: 5, consumed_at: null });
    // Exactly five guesses were compared with the code; the other seven found it dead.
    const reasons = (await auditTypes(account.id)).filter((event) => event.type === 'mfa.challenge_failed').map((event) => event.details.reason);
    expect(reasons.filter((reason) => reason === 'mismatched')).toHaveLength(5);
    expect(reasons.filter((reason) => reason === 'unavailable')).toHaveLength(7);
    expect(await service.verifyCode(account.id, factorId, code, context)).toBe(false);
  });

  it('with five wrong guesses and the right one in parallel, stays within five attempts and passes at most once', async () => {
    for (let trial = 0; trial < 4; trial += 1) {
      const { account, phone, factorId } = await withSmsFactor();
      await service.sendCode(account.id, factorId, context);
      const code = await nextSmsCode(phone);
      const guesses = [1, 2, 3, 4, 5].map((n) => String((Number(code) + n) % 1_000_000).padStart(6, '0'));
      guesses.splice(trial, 0, code);
      const results = await Promise.all(guesses.map((guess) => service.verifyCode(account.id, factorId, guess, context)));
      const row = (await challengeRows(factorId)).at(-1)!;
      expect(row.attempts).toBeLessThanOrEqual(5);
      expect(results.filter(Boolean).length).toBe(row.consumed_at ? 1 : 0);
    }
  });

  it('lets only one of several parallel right guesses pass', async () => {
    const { account, phone, factorId } = await withSmsFactor();
    await service.sendCode(account.id, factorId, context);
    const code = await nextSmsCode(phone);
    const results = await Promise.all(Array.from({ length: 6 }, () => service.verifyCode(account.id, factorId, code, context)));
    expect(results.filter(Boolean)).toHaveLength(1);
  });

  it('refuses an expired code', async () => {
    const { account, phone, factorId } = await withSmsFactor();
    await service.sendCode(account.id, factorId, context);
    tick(601);
    expect(await service.verifyCode(account.id, factorId, await nextSmsCode(phone), context)).toBe(false);
    const last = (await auditTypes(account.id)).at(-1)!;
    expect(last).toMatchObject({ type: 'mfa.challenge_failed', details: { reason: 'unavailable' } });
  });

  it("refuses another account's factor", async () => {
    const { factorId } = await withSmsFactor();
    const intruder = await newAccount();
    await expect(service.verifyCode(intruder.id, factorId, '123456', context)).rejects.toMatchObject({ code: 'factor_not_found', status: 404 });
    await expect(service.sendCode(intruder.id, factorId, context)).rejects.toMatchObject({ code: 'factor_not_found', status: 404 });
  });
});

describe('resend throttle', () => {
  it('holds a new code back for 30 s after the last one and caps an account at five an hour', async () => {
    const { account, factorId } = await withSmsFactor(); // one code sent at enrolment, clock moved 31 s
    const first = await service.sendCode(account.id, factorId, context);
    expect(first.resendAt.getTime() - clock.getTime()).toBe(30_000);
    await expect(service.sendCode(account.id, factorId, context)).rejects.toMatchObject({ status: 429, code: 'too_many_attempts', retryAfterSeconds: 30 });
    tick(10);
    await expect(service.sendCode(account.id, factorId, context)).rejects.toMatchObject({ retryAfterSeconds: 20 });
    tick(21);
    for (let sent = 2; sent < 5; sent += 1) {
      await service.sendCode(account.id, factorId, context);
      tick(31);
    }
    // Five codes went out in the last hour (enrolment + four): the sixth waits until the oldest is an hour old.
    const error = await service.sendCode(account.id, factorId, context).catch((e: unknown) => e) as { status: number; retryAfterSeconds: number };
    expect(error).toMatchObject({ status: 429, code: 'too_many_attempts' });
    expect(error.retryAfterSeconds).toBe(3600 - (31 + 31 + 31 * 3));
    tick(error.retryAfterSeconds);
    await expect(service.sendCode(account.id, factorId, context)).resolves.toMatchObject({ factorId });
  });

  it('sends one code when several requests race', async () => {
    const { account, factorId } = await withSmsFactor();
    const outcomes = await Promise.allSettled(Array.from({ length: 5 }, () => service.sendCode(account.id, factorId, context)));
    expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(1);
    expect(outcomes.filter((outcome) => outcome.status === 'rejected').map((outcome) => (outcome as PromiseRejectedResult).reason.status)).toEqual([429, 429, 429, 429]);
    expect(await challengeRows(factorId)).toHaveLength(2);
  });

  it('refuses an enrolment over the hourly cap without leaving a factor behind', async () => {
    const account = await newAccount();
    for (let i = 0; i < 5; i += 1) await service.enrolSms(account.id, uniquePhone(), context);
    await expect(service.enrolSms(account.id, uniquePhone(), context)).rejects.toMatchObject({ status: 429 });
    expect(await dataSource.query(`SELECT id FROM mfa_factors WHERE account_id = $1`, [account.id])).toHaveLength(5);
  });
});

describe('storage', () => {
  it('stores a keyed hash bound to the challenge, never the code', async () => {
    const { account, phone, factorId } = await withSmsFactor();
    await service.sendCode(account.id, factorId, context);
    const code = await nextSmsCode(phone);
    const row = (await challengeRows(factorId)).at(-1)!;
    expect(row.code_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(row.code_hash).not.toContain(code);
    expect(row.code_hash).not.toBe(createHash('sha256').update(code).digest('hex'));
    expect(row.code_hash).toBe(createHmac('sha256', hashKey).update(`otp:${row.id}:${code}`).digest('hex'));
    const dump = JSON.stringify(await dataSource.query(`SELECT * FROM otp_challenges WHERE factor_id = $1`, [factorId]));
    expect(dump).not.toContain(code);
  });
});
