import { print, requireString, UsageError, type CliCommand } from './cli-command.js';

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
};
