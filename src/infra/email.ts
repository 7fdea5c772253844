import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import nodemailer from 'nodemailer';
import type { Logger } from './logger.js';

/** A rendered message, ready to deliver: both parts are always sent (multipart/alternative). */
export interface OutgoingEmail {
  to: string;
  subject: string;
  text: string;
  html: string;
}

export interface Mailer {
  send(message: OutgoingEmail): Promise<void>;
  close(): void;
}

export interface MailerOptions {
  /** smtp:// or smtps:// URL; without it, mail goes to the dev outbox under dataDir. */
  smtpUrl?: string;
  mailFrom: string;
  dataDir: string;
  logger: Logger;
}

/** SMTP delivery when smtpUrl is set, otherwise a dev outbox of .eml files whose links are logged. */
export function createMailer(options: MailerOptions): Mailer {
  return options.smtpUrl ? createSmtpMailer(options.smtpUrl, options) : createOutboxMailer(options);
}

/** Every http(s) link in a plain-text body, in order, without duplicates. */
export function linksInText(text: string): string[] {
  return [...new Set(text.match(/https?:\/\/[^\s<>"]+/g) ?? [])];
}

function createSmtpMailer(smtpUrl: string, { mailFrom, logger }: MailerOptions): Mailer {
  // nodemailer drops every option beside a `url`, so pooling has to ride in the URL's query.
  const url = /[?&]pool=/.test(smtpUrl) ? smtpUrl : `${smtpUrl}${smtpUrl.includes('?') ? '&' : '?'}pool=true`;
  const transport = nodemailer.createTransport(url);
  return {
    async send({ to, subject, text, html }) {
      const info = await transport.sendMail({ from: mailFrom, to, subject, text, html });
      // Recipient and id only: bodies carry one-time links, which are bearer secrets.
      logger.debug({ to, messageId: info.messageId }, 'email sent');
    },
    close() {
      transport.close();
    },
  };
}

function createOutboxMailer({ mailFrom, dataDir, logger }: MailerOptions): Mailer {
  const outbox = path.join(dataDir, 'outbox');
  // streamTransport + buffer builds the exact MIME message SMTP would carry, so the .eml opens in any mail client.
  const transport = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'windows' });
  return {
    async send({ to, subject, text, html }) {
      const info = await transport.sendMail({ from: mailFrom, to, subject, text, html });
      await mkdir(outbox, { recursive: true });
      // A timestamp prefix keeps the outbox listing in sending order.
      const file = path.join(outbox, `${new Date().toISOString().replace(/[:.]/g, '-')}-${randomUUID()}.eml`);
      await writeFile(file, info.message as Buffer, { mode: 0o600 });
      // Development only (no SMTP configured): the links are logged on purpose so a developer can follow them.
      logger.info({ to, subject, links: linksInText(text), file }, 'email written to the dev outbox');
    },
    close() {
      // Nothing to release: the stream transport holds no connection.
    },
  };
}
