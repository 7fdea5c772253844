import type { EmailLocals, EmailRenderer, EmailTemplate } from '../email/email-renderer.js';
import type { Locale } from '../i18n/i18n.js';
import type { Mailer } from '../infra/email.js';
import type { SmsSender } from '../infra/sms.js';
import type { OutboxMessage } from './outbox-message.entity.js';

/** An `email` message: rendered at delivery from the template, so the table holds no rendered body. */
export interface EmailPayload<T extends EmailTemplate = EmailTemplate> {
  template: T;
  to: string;
  locale: Locale;
  locals: EmailLocals[T];
}

/** An `sms` message: the text must carry its code, so it is stored as it will be sent (never logged). */
export interface SmsPayload { to: string; text: string }

/** Delivers `email` messages through the mailer. */
export function emailHandler({ mailer, renderer }: { mailer: Mailer; renderer: EmailRenderer }) {
  return async (message: OutboxMessage): Promise<void> => {
    const { template, to, locale, locals } = message.payload as unknown as EmailPayload;
    const rendered = await renderer.render(template, locale, locals);
    await mailer.send({ to, ...rendered });
  };
}

/** Delivers `sms` messages through the configured provider. */
export function smsHandler({ sms }: { sms: SmsSender }) {
  return async (message: OutboxMessage): Promise<void> => {
    const { to, text } = message.payload as unknown as SmsPayload;
    await sms.send(to, text);
  };
}

/** What the audit trail may say about an email: the template, never the locals (they hold links and codes). */
export const describeEmail = (message: OutboxMessage) =>
  ({ template: (message.payload as { template?: string }).template });
