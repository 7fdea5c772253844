import type { AuditEventView } from '../audit/audit-service.js';
import { print, requireString, UsageError, type CliCommand, type OptionValues } from './cli-command.js';

function dateOption(values: OptionValues, name: string): Date | undefined {
  const value = values[name];
  if (typeof value !== 'string') return undefined;
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) throw new UsageError(`--${name} must be an ISO 8601 date or time`);
  return date;
}

const stringOption = (values: OptionValues, name: string) => (typeof values[name] === 'string' ? values[name] : undefined);

function eventJson(event: AuditEventView) {
  return {
    id: event.id, occurred_at: event.occurredAt, type: event.type, actor: event.actor, account_id: event.accountId,
    client_id: event.clientId, ip: event.ip, user_agent: event.userAgent, details: event.details,
  };
}

const eventLine = (event: ReturnType<typeof eventJson>) =>
  [event.occurred_at.toISOString(), event.type, event.actor ?? '-', event.account_id ?? event.client_id ?? '', JSON.stringify(event.details)].join('  ');

export const auditCommands: Record<string, CliCommand> = {
  verify: {
    summary: 'walk the audit hash chain; exits 1 naming the first broken row',
    async run(container, _values, _positionals, io) {
      const result = await container.audit.verify();
      print(io, result, (r) => r.ok ? `audit chain intact: ${r.count} events` : `audit chain broken at event ${r.brokenId} (${r.reason}) after ${r.count} intact events`);
      return result.ok ? 0 : 1;
    },
  },
  export: {
    summary: 'stream events since a time as JSON lines',
    usage: '--since 2026-01-01T00:00:00Z',
    options: { since: { type: 'string' } },
    async run(container, values, _positionals, io) {
      const since = new Date(requireString(values, 'since'));
      if (Number.isNaN(since.getTime())) throw new UsageError('--since must be an ISO 8601 date or time');
      await container.audit.exportSince(since, (line) => io.out(line));
    },
  },
  list: {
    summary: 'list events newest first, filtered; --cursor pages on (from the JSON next_cursor)',
    usage: '[--account ID|EMAIL] [--type T] [--actor A] [--client ID] [--since ISO] [--until ISO] [--limit N] [--cursor C]',
    options: {
      account: { type: 'string' }, type: { type: 'string' }, actor: { type: 'string' }, client: { type: 'string' },
      since: { type: 'string' }, until: { type: 'string' }, limit: { type: 'string' }, cursor: { type: 'string' },
    },
    async run(container, values, _positionals, io) {
      const limit = values.limit === undefined ? 50 : Number(values.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new UsageError('--limit must be a whole number from 1 to 1000');
      let account = stringOption(values, 'account');
      if (account?.includes('@')) account = (await container.accounts.show(account)).id;
      else if (account !== undefined && !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(account)) throw new UsageError('--account must be an account id (a UUID) or an email');
      const page = await container.audit.query({
        accountId: account, type: stringOption(values, 'type'), actor: stringOption(values, 'actor'), clientId: stringOption(values, 'client'),
        since: dateOption(values, 'since'), until: dateOption(values, 'until'), cursor: stringOption(values, 'cursor'), limit,
      });
      const result = { events: page.items.map(eventJson), next_cursor: page.nextCursor };
      print(io, result, (r) => [...r.events.map(eventLine), ...(r.next_cursor ? [`more: --cursor ${r.next_cursor}`] : [])].join('\n') || 'no events');
    },
  },
};
