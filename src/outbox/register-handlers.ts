import type { EmailRenderer } from '../email/email-renderer.js';
import type { Mailer } from '../infra/email.js';
import type { SmsSender } from '../infra/sms.js';
import { describeEmail, emailHandler, smsHandler } from './message-handlers.js';
import type { OutboxHandler, OutboxRepos, OutboxWorker } from './outbox-worker.js';

/** Registers the message kinds every process delivers: `email`, `sms`, and the given job kinds. */
export function registerOutboxHandlers<R extends OutboxRepos>(worker: OutboxWorker<R>, deps: {
  mailer: Mailer; renderer: EmailRenderer; sms: SmsSender; jobs: Array<{ kind: string; handle: OutboxHandler<R> }>;
}): void {
  worker.register('email', emailHandler(deps), { auditAs: 'email', describe: describeEmail });
  worker.register('sms', smsHandler(deps), { auditAs: 'sms' });
  for (const job of deps.jobs) worker.register(job.kind, job.handle);
}
