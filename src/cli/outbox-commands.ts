import type { OutboxMessage, OutboxStatus } from '../outbox/outbox-message.entity.js';
import { print, UsageError, type CliCommand } from './cli-command.js';

const statuses: OutboxStatus[] = ['pending', 'delivered', 'dead'];
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** What an operator sees of a message: never its payload (links, codes, addresses), only the email template. */
function messageJson(message: OutboxMessage) {
  const template = message.kind === 'email' ? (message.payload as { template?: string }).template ?? null : null;
  return {
    id: message.id, kind: message.kind, template, status: message.status, attempts: message.attempts,
    next_attempt_at: message.nextAttemptAt, last_error: message.lastError, account_id: message.accountId,
    created_at: message.createdAt, delivered_at: message.deliveredAt,
  };
}

const messageLine = (m: ReturnType<typeof messageJson>) => [
  m.id, m.status.padEnd(9), `${m.kind}${m.template ? `:${m.template}` : ''}`, `attempts=${m.attempts}`,
  m.status === 'pending' ? `next=${m.next_attempt_at.toISOString()}` : `created=${m.created_at.toISOString()}`,
  m.last_error ? `error="${m.last_error}"` : '',
].filter(Boolean).join('  ');

export const outboxCommands: Record<string, CliCommand> = {
  list: {
    summary: 'list outbox messages newest first (email, sms, account jobs)',
    usage: '[--status pending|delivered|dead] [--limit N]',
    options: { status: { type: 'string' }, limit: { type: 'string' } },
    async run(container, values, _positionals, io) {
      const status = values.status as OutboxStatus | undefined;
      if (status !== undefined && !statuses.includes(status)) {
        throw new UsageError(`--status must be one of ${statuses.join(', ')}`);
      }
      const limit = values.limit === undefined ? 50 : Number(values.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
        throw new UsageError('--limit must be a whole number from 1 to 1000');
      }
      const messages = (await container.db.repos.outbox.list({ status, limit })).map(messageJson);
      print(io, { messages }, (r) => r.messages.map(messageLine).join('\n') || 'no messages');
    },
  },
  retry: {
    summary: 'deliver a dead (or pending) message again now, with a fresh round of attempts',
    usage: '<id> | --dead',
    options: { dead: { type: 'boolean' } },
    async run(container, values, positionals, io) {
      const [id] = positionals;
      if (values.dead === true) {
        if (id) throw new UsageError('give either <id> or --dead, not both');
        const retried = await container.db.transaction(async (repos) => {
          const count = await repos.outbox.retryDead();
          if (count) await repos.audit.append({ type: 'outbox.retried', actor: 'cli', details: { count } });
          return count;
        });
        print(io, { retried }, (r) => `${r.retried} dead message(s) queued again`);
        return 0;
      }
      if (!id) throw new UsageError('missing <id> (or --dead)');
      if (!uuidPattern.test(id)) throw new UsageError('<id> must be an outbox message id (a UUID)');
      const retried = await container.db.transaction(async (repos) => {
        const done = await repos.outbox.retry(id);
        if (done) await repos.audit.append({ type: 'outbox.retried', actor: 'cli', details: { messageId: id } });
        return done;
      });
      if (!retried) throw new UsageError(`no pending or dead outbox message ${id}`);
      print(io, { retried: 1, id }, () => `message ${id} queued again`);
      return 0;
    },
  },
};
