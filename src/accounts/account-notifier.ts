import type { EmailLocals, EmailRenderer, EmailTemplate } from '../email/email-renderer.js';
import type { Mailer } from '../infra/email.js';
import type { Logger } from '../infra/logger.js';
import type { Locale } from '../i18n/i18n.js';

/**
 * Sends account emails off the request path: whether a message goes out (an account exists)
 * must not show in response times, and an SMTP outage must not fail a sign-up.
 */
export function createAccountNotifier({ mailer, renderer, logger }: { mailer: Mailer; renderer: EmailRenderer; logger: Logger }) {
  const pending = new Set<Promise<void>>();
  return {
    send<T extends EmailTemplate>(template: T, to: string, locale: Locale, locals: EmailLocals[T]): void {
      const delivery = renderer.render(template, locale, locals)
        .then((message) => mailer.send({ to, ...message }))
        .catch((error: unknown) => logger.error({ err: error, template }, 'email delivery failed'))
        .finally(() => pending.delete(delivery));
      pending.add(delivery);
    },
    /** Waits for queued deliveries (shutdown). */
    async drain(): Promise<void> {
      await Promise.allSettled([...pending]);
    },
  };
}

export type AccountNotifier = ReturnType<typeof createAccountNotifier>;
