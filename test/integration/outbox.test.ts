/**
 * The durable outbox against real PostgreSQL and a real SMTP receiver that can refuse: retries
 * with backoff, dead-letter after max attempts, SKIP LOCKED claiming by two workers, the
 * operator CLI, and a sign-up while SMTP is down.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createContainer, type Container } from '../../src/container.js';
import { createLogger } from '../../src/infra/logger.js';
import { BrowserAgent } from '../helpers/browser-agent.js';
import {
  accountRow,
  auditEvents,
  mailTo,
  strongPassword,
  submitForm,
  uniqueEmail,
} from '../helpers/accounts-fixtures.js';
import { cliRunner } from '../helpers/cli-runner.js';
import { eventually } from '../helpers/eventually.js';
import { startSmtpReceiver, type SmtpReceiver } from '../helpers/smtp-receiver.js';
import { startTestServer, testEnvironment, type TestServer } from '../helpers/test-server.js';

// Fast retries, so a test sees several attempts in well under a second.
const fast = { pollIntervalSeconds: 0.05, backoffBaseSeconds: 0.05, backoffMaxSeconds: 0.2, maxAttempts: 4 };

interface OutboxRow {
  id: string;
  kind: string;
  status: string;
  attempts: number;
  last_error: string | null;
  payload: Record<string, unknown>;
}

let smtp: SmtpReceiver;
let env: Record<string, string>;
let sql: pg.Client;
let first: Container;
let second: Container;
const { cli, cliJson } = cliRunner(() => env);

beforeAll(async () => {
  smtp = await startSmtpReceiver();
  const environment = await testEnvironment({ smtpUrl: smtp.url, outbox: fast });
  env = environment.env;
  sql = new pg.Client({ connectionString: environment.databaseUrl });
  await sql.connect();
  // Two instances of one deployment: same database, their own pools and workers.
  first = await createContainer(environment.config, createLogger('silent'), { migrate: false, redis: false });
  second = await createContainer(environment.config, createLogger('silent'), { migrate: false, redis: false });
});
afterAll(async () => {
  await first?.close();
  await second?.close();
  await sql?.end();
  await smtp?.close();
});

const rowsFor = async (marker: string) =>
  (
    await sql.query<OutboxRow>(
      `SELECT id, kind, status, attempts, last_error, payload FROM outbox_messages WHERE ` +
      `payload->'locals'->>'newEmail' = $1`,
      [marker],
    )
  ).rows;
const eventsOf = async (messageId: string) => (await sql.query<{ type: string; details: Record<string, unknown> }>(
  `SELECT type, details FROM audit_events WHERE details->>'messageId' = $1 ORDER BY id`, [messageId])).rows;
/** What the email-changed notice says about the change besides the new address. */
const notice = {
  when: '2026-12-03 12:00 UTC',
  ip: '127.0.0.1',
  browser: 'Firefox',
  os: 'Linux',
  securityLink: 'http://localhost/account/security',
};
const mailsWith = (marker: string) => smtp.messages.filter((m) => (m.text ?? '').includes(marker));

/** Queues one email whose body carries `marker` (the email-changed notice names the new address). */
async function queue(container: Container, marker: string): Promise<void> {
  container.notifier.send('email-changed', 'owner@example.test', 'en', { newEmail: marker, ...notice });
  await container.notifier.drain();
}

describe('delivery', () => {
  it('retries with backoff while SMTP refuses, then delivers once, and audits queued then delivered', async () => {
    smtp.setRefusing(true);
    const marker = uniqueEmail('retry');
    first.outbox.start();
    try {
      await queue(first, marker);
      const [failing] = await eventually(() => rowsFor(marker), (rows) => rows[0]!.attempts >= 2);
      expect(failing).toMatchObject({ kind: 'email', status: 'pending' });
      // The reason is the SMTP answer, nothing from the message.
      expect(failing!.last_error).toMatch(/421|service not available/);
      expect(failing!.last_error).not.toContain(marker);
      smtp.setRefusing(false);
      await smtp.waitFor((m) => (m.text ?? '').includes(marker));
      const [delivered] = await eventually(() => rowsFor(marker), (rows) => rows[0]!.status === 'delivered');
      expect(delivered!.last_error).toBeNull();
      expect(mailsWith(marker)).toHaveLength(1);
      const events = await eventually(() => eventsOf(delivered!.id), (list) => list.length === 2);
      expect(events.map((e) => e.type)).toEqual(['email.queued', 'email.delivered']);
      expect(events[1]!.details).toMatchObject({ template: 'email-changed', attempts: delivered!.attempts });
      expect(JSON.stringify(events)).not.toContain(marker);
    } finally {
      smtp.setRefusing(false);
      await first.outbox.stop();
    }
  });

  it('dead-letters after maxAttempts with an abandoned event; `outbox list` shows it and `outbox retry` delivers it', async () => {
    smtp.setRefusing(true);
    const marker = uniqueEmail('dead');
    first.outbox.start();
    try {
      await queue(first, marker);
      const [dead] = await eventually(() => rowsFor(marker), (rows) => rows[0]!.status === 'dead');
      expect(dead!.attempts).toBe(fast.maxAttempts);
      const events = await eventsOf(dead!.id);
      expect(events.map((e) => e.type)).toEqual(['email.queued', 'email.abandoned']);
      expect(events[1]!.details).toMatchObject({
        template: 'email-changed',
        attempts: fast.maxAttempts,
        error: dead!.last_error,
      });

      const listed = await cliJson<{ messages: Array<Record<string, unknown>> }>([
        'outbox',
        'list',
        '--status',
        'dead',
      ]);
      expect(listed.messages).toContainEqual(
        expect.objectContaining({
          id: dead!.id,
          kind: 'email',
          template: 'email-changed',
          status: 'dead',
          attempts: fast.maxAttempts,
        }),
      );
      // Operators see the kind, template and reason, never the payload (links, codes, addresses).
      expect(JSON.stringify(listed)).not.toContain(marker);
      const human = await cli(['outbox', 'list', '--status', 'dead']);
      expect(human.stdout).toContain(`${dead!.id}  dead`);

      smtp.setRefusing(false);
      expect(await cli(['outbox', 'retry', dead!.id])).toMatchObject({
        code: 0,
        stdout: `message ${dead!.id} queued again`,
      });
      await smtp.waitFor((m) => (m.text ?? '').includes(marker));
      const [again] = await eventually(() => rowsFor(marker), (rows) => rows[0]!.status === 'delivered');
      expect(again!.attempts).toBe(1);
      expect((await eventsOf(dead!.id)).map((e) => e.type)).toEqual([
        'email.queued',
        'email.abandoned',
        'outbox.retried',
        'email.delivered',
      ]);
      // A delivered message is not retried; a bad id is refused.
      expect(await cli(['outbox', 'retry', dead!.id])).toMatchObject({
        code: 2,
        stderr: `portcullis: no pending or dead outbox message ${dead!.id}`,
      });
      expect(await cli(['outbox', 'retry', 'nope'])).toMatchObject({ code: 2 });
      expect(await cli(['outbox', 'list', '--status', 'lost'])).toMatchObject({
        code: 2,
        stderr: 'portcullis: --status must be one of pending, delivered, dead',
      });
      expect(await cliJson(['outbox', 'retry', '--dead'])).toEqual({ retried: 0 });
    } finally {
      smtp.setRefusing(false);
      await first.outbox.stop();
    }
  });

  it('two workers claiming at once (SKIP LOCKED) deliver every message exactly once', async () => {
    const markers = Array.from({ length: 30 }, () => uniqueEmail('claim'));
    for (const marker of markers)
      first.notifier.send('email-changed', 'owner@example.test', 'en', { newEmail: marker, ...notice });
    await first.notifier.drain();
    const handled = await Promise.all([
      first.outbox.deliverDue(),
      second.outbox.deliverDue(),
      first.outbox.deliverDue(),
      second.outbox.deliverDue(),
    ]);
    expect(handled.reduce((a, b) => a + b, 0)).toBe(markers.length);
    for (const marker of markers) {
      expect(mailsWith(marker)).toHaveLength(1);
      expect((await rowsFor(marker))[0]).toMatchObject({ status: 'delivered', attempts: 1 });
    }
  });
});

describe('sign-up while SMTP is down', () => {
  let t: TestServer;
  let mail: SmtpReceiver;
  beforeAll(async () => {
    mail = await startSmtpReceiver();
    mail.setRefusing(true);
    t = await startTestServer({ smtpUrl: mail.url, captcha: { provider: 'none' }, outbox: fast });
  });
  afterAll(async () => {
    await t?.close();
    await mail?.close();
  });

  it('answers the person at once, and the verification mail arrives once SMTP is back', async () => {
    const agent = new BrowserAgent();
    const login = await agent.follow(new URL('/account', t.issuer));
    const page = await agent.request(new URL(`${login.url.pathname}/register`, login.url));
    const email = uniqueEmail('outage');
    const done = await submitForm(agent, page, '/register', { name: 'Grace', email, password: strongPassword() });
    expect(done.status).toBe(200);
    expect(done.html).toContain('Check your email');
    const account = await accountRow(t, email);
    // The mail is queued and being retried; nothing claims it was sent.
    await eventually(
      () => t.container.db.repos.outbox.list({ status: 'pending', limit: 10 }),
      (rows) =>
        rows.some(
          (row) => row.kind === 'email' && row.accountId === account.id && row.attempts >= 1 && row.lastError !== null,
        ),
    );
    expect(mail.refused).toBeGreaterThan(0);
    expect((await auditEvents(t, account.id)).map((e) => e.type)).toEqual(['account.registered', 'email.queued']);

    mail.setRefusing(false);
    await mailTo(mail, email, /Confirm your email address/);
    const events = await eventually(
      () => auditEvents(t, account.id),
      (rows) => rows.some((e) => e.type === 'email.delivered'),
    );
    expect(events.map((e) => e.type)).toEqual(['account.registered', 'email.queued', 'email.delivered']);
    expect(mail.messages.filter((m) => JSON.stringify(m.to).includes(email))).toHaveLength(1);
  });
});
