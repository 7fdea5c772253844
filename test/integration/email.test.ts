import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { simpleParser } from 'mailparser';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createMailer, linksInText, type Mailer } from '../../src/infra/email.js';
import { startSmtpReceiver, type SmtpReceiver } from '../helpers/smtp-receiver.js';

const link = 'https://id.example.test/verify?token=abc123&uid=42';
const message = {
  to: 'ada@example.test',
  subject: 'Confirm your email address for Portcullis',
  text: `Hello,\n\nConfirm your address:\n${link}\n\nSecret body sentence.\n`,
  html: `<p>Hello,</p><p><a href="${link.replace(/&/g, '&amp;')}">Confirm</a></p><p>Secret body sentence.</p>`,
};

/** A pino logger writing JSON lines into an array, so the test reads exactly what production would log. */
function capturedLogger() {
  const lines: string[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => { lines.push(line); } });
  return { logger, entries: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>), raw: () => lines.join('') };
}

const temporaryDirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'portcullis-email-test-'));
  temporaryDirs.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of temporaryDirs) rmSync(dir, { recursive: true, force: true });
});

describe('createMailer with an SMTP URL', () => {
  let receiver: SmtpReceiver;
  let mailer: Mailer | undefined;
  beforeAll(async () => {
    receiver = await startSmtpReceiver();
  });
  afterEach(() => mailer?.close());
  afterAll(() => receiver.close());

  it('delivers a multipart message with the sender, recipient, subject and link intact', async () => {
    const { logger, raw } = capturedLogger();
    mailer = createMailer({ smtpUrl: receiver.url, mailFrom: 'Portcullis <no-reply@id.example.test>', dataDir: tempDir(), logger });
    await mailer.send(message);

    const mail = await receiver.waitFor((m) => m.subject === message.subject);
    expect(mail.from?.value).toEqual([{ address: 'no-reply@id.example.test', name: 'Portcullis' }]);
    expect(mail.to && !Array.isArray(mail.to) ? mail.to.value.map((a) => a.address) : []).toEqual(['ada@example.test']);
    expect(mail.text).toContain(link);
    expect(typeof mail.html === 'string' && mail.html).toContain('Confirm');
    expect(receiver.linksIn(mail)).toEqual([link]);
    expect(mail.headers.get('content-type')).toMatchObject({ value: 'multipart/alternative' });
    // SMTP delivery never writes bodies or links to the log.
    expect(raw()).not.toContain('token=abc123');
    expect(raw()).not.toContain('Secret body sentence');
  });

  it('sends several messages concurrently through the pool', async () => {
    const { logger } = capturedLogger();
    mailer = createMailer({ smtpUrl: receiver.url, mailFrom: 'no-reply@id.example.test', dataDir: tempDir(), logger });
    await Promise.all([1, 2, 3].map((n) => mailer!.send({ ...message, subject: `pooled ${n}` })));
    for (const n of [1, 2, 3]) await receiver.waitFor((m) => m.subject === `pooled ${n}`);
  });

  it('waitFor also resolves on a message that arrives later', async () => {
    const { logger } = capturedLogger();
    mailer = createMailer({ smtpUrl: receiver.url, mailFrom: 'no-reply@id.example.test', dataDir: tempDir(), logger });
    const waiting = receiver.waitFor((m) => m.subject === 'later');
    await mailer.send({ ...message, subject: 'later' });
    await expect(waiting).resolves.toMatchObject({ subject: 'later' });
  });
});

describe('createMailer without an SMTP URL (dev outbox)', () => {
  it('writes a real MIME .eml file under <dataDir>/outbox and logs the links, not the body', async () => {
    const dataDir = tempDir();
    const { logger, entries, raw } = capturedLogger();
    const mailer = createMailer({ mailFrom: 'Portcullis <no-reply@id.example.test>', dataDir, logger });
    await mailer.send(message);
    mailer.close();

    const files = readdirSync(path.join(dataDir, 'outbox'));
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/\.eml$/);
    const mail = await simpleParser(readFileSync(path.join(dataDir, 'outbox', files[0]!)));
    expect(mail.subject).toBe(message.subject);
    expect(mail.from?.value).toEqual([{ address: 'no-reply@id.example.test', name: 'Portcullis' }]);
    expect(mail.to && !Array.isArray(mail.to) ? mail.to.text : '').toBe('ada@example.test');
    expect(mail.text).toContain(link);
    expect(mail.html).toContain('Confirm');

    const logged = entries().find((entry) => entry.msg === 'email written to the dev outbox');
    expect(logged).toMatchObject({ level: 30, to: 'ada@example.test', subject: message.subject, links: [link] });
    expect(raw()).not.toContain('Secret body sentence');
  });
});

describe('linksInText', () => {
  it('finds http and https links once each, stopping at whitespace and angle brackets', () => {
    expect(linksInText('a http://x.test/a b <https://y.test/b?c=1&d=2> http://x.test/a')).toEqual(['http://x.test/a', 'https://y.test/b?c=1&d=2']);
  });
});
