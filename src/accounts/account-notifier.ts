import type { AuditEventInput } from '../audit/audit-chain.js';
import type { EmailLocals, EmailTemplate } from '../email/email-renderer.js';
import type { Logger } from '../infra/logger.js';
import type { Database } from '../infra/unit-of-work.js';
import type { Locale } from '../i18n/i18n.js';
import type { EmailPayload, SmsPayload } from '../outbox/message-handlers.js';
import type { OutboxRepository } from '../outbox/outbox-repository.js';

/** The repositories an enqueue writes to: pass a transaction's, so the message commits with its cause. */
export interface NotifierRepos { outbox: OutboxRepository; audit: { append(input: AuditEventInput): Promise<unknown> } }

export interface SendOptions { accountId?: string | null }

const asJson = (payload: object) => payload as unknown as Record<string, unknown>;

/**
 * Account email and SMS through the durable outbox (src/outbox/): a message is queued in
 * PostgreSQL and delivered by the outbox worker, with retries, so an SMTP outage never fails a
 * sign-up and nothing is called "sent" before it is. The audit trail says `email.queued` here and
 * `email.delivered` / `email.abandoned` from the worker.
 */
export function createAccountNotifier({ db, logger }: { db: Database<NotifierRepos>; logger: Logger }) {
  const pending = new Set<Promise<void>>();

  async function queueEmail<T extends EmailTemplate>(repos: NotifierRepos, template: T, to: string, locale: Locale,
    locals: EmailLocals[T], options: SendOptions = {}): Promise<string> {
    const payload: EmailPayload<T> = { template, to, locale, locals };
    const id = await repos.outbox.insert({ kind: 'email', payload: asJson(payload), accountId: options.accountId });
    await repos.audit.append({
      type: 'email.queued', actor: 'system', accountId: options.accountId ?? undefined,
      details: { messageId: id, template },
    });
    return id;
  }

  return {
    /**
     * Queues an email in a transaction of its own, without waiting (callers after a commit).
     * Prefer `sendWithin` inside the transaction that causes the email.
     */
    send<T extends EmailTemplate>(template: T, to: string, locale: Locale, locals: EmailLocals[T],
      options: SendOptions = {}): void {
      const queued = db.transaction((repos) => queueEmail(repos, template, to, locale, locals, options))
        .then(() => undefined, (error: unknown) => logger.error({ err: error, template }, 'email could not be queued'))
        .finally(() => pending.delete(queued));
      pending.add(queued);
    },
    /** Queues an email inside the caller's transaction (`db.transaction`): it commits or rolls back with the change. */
    sendWithin: queueEmail,
    /** Queues a text message inside the caller's transaction; the text carries the code and is never logged. */
    async sendSmsWithin(repos: NotifierRepos, to: string, text: string, options: SendOptions = {}): Promise<string> {
      const payload: SmsPayload = { to, text };
      const id = await repos.outbox.insert({ kind: 'sms', payload: asJson(payload), accountId: options.accountId });
      await repos.audit.append({
        type: 'sms.queued', actor: 'system', accountId: options.accountId ?? undefined, details: { messageId: id },
      });
      return id;
    },
    /**
     * Queues account work for the worker (a job kind with a registered handler). One INSERT, no
     * audit: a request path that must cost the same for every identifier can call it unconditionally.
     */
    async enqueueJob(repos: NotifierRepos, kind: string, payload: Record<string, unknown>,
      options: SendOptions = {}): Promise<string> {
      return repos.outbox.insert({ kind, payload, accountId: options.accountId });
    },
    /** Waits until every `send` has been queued (shutdown). */
    async drain(): Promise<void> {
      await Promise.allSettled([...pending]);
    },
  };
}

export type AccountNotifier = ReturnType<typeof createAccountNotifier>;
