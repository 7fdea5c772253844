import type { AuditCheckpoint } from '../audit/audit-checkpoint-repository.js';
import type { AuditEventView } from '../audit/audit-service.js';
import type { AuditTrailResult, CheckpointProblem } from '../audit/audit-trail-verifier.js';
import { generateCheckpointKey } from '../audit/checkpoint-signer.js';
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

const checkpointJson = (c: AuditCheckpoint) => ({
  id: c.id, created_at: c.createdAt, last_event_id: c.lastEventId, last_hash: c.lastHash, count: c.count, kid: c.kid,
  jws: c.jws,
});

const PROBLEMS: Record<CheckpointProblem['problem'], string> = {
  bad_signature: 'is not signed by the configured key (forged, or another key)',
  payload_mismatch: 'was changed: its row differs from what was signed',
  prev_mismatch: 'does not follow the checkpoint before it (a checkpoint was removed or inserted)',
  truncated: 'names an event that is gone',
  hash_mismatch: 'names an event whose hash has changed',
  count_mismatch: 'counted a different number of events up to its event',
};

function describeProblem(p: CheckpointProblem): string {
  if (p.problem === 'truncated') {
    const missing = (p.expectedCount ?? 0) - (p.foundCount ?? 0);
    return `audit trail truncated: checkpoint ${p.checkpointId} covers events through ${p.lastEventId} `
      + `(${p.expectedCount} events) `
      + `but the chain ends at event ${p.chainEndsAt} (${p.foundCount} events): `
      + `events after ${p.chainEndsAt} through ${p.lastEventId} `
      + `were deleted${missing > 0 ? ` (${missing} missing)` : ''}`;
  }
  return `checkpoint ${p.checkpointId} (through event ${p.lastEventId}) ${PROBLEMS[p.problem]}`;
}

function describeTrail(r: AuditTrailResult): string {
  const lines = ['brokenId' in r
    ? `audit chain broken at event ${r.brokenId} (${r.reason}) after ${r.count} intact events`
    : `audit chain intact: ${r.count} events`];
  const c = r.checkpoints;
  if (c) {
    lines.push(...c.problems.map(describeProblem));
    if (!c.signaturesChecked) lines.push('checkpoint signatures not checked: no audit.checkpoint.key configured');
    lines.push(c.newest
      ? `checkpoints: ${c.total}; the newest (${c.newest.id}, ${c.newest.createdAt}) `
        + `covers events through ${c.newest.lastEventId}; `
        + `${c.uncoveredEvents} newer events are not covered yet`
      : 'no checkpoints yet: run audit checkpoint');
  }
  return lines.join('\n');
}

const eventLine = (event: ReturnType<typeof eventJson>) =>
  [event.occurred_at.toISOString(), event.type, event.actor ?? '-', event.account_id ?? event.client_id ?? '', JSON.stringify(event.details)].join('  ');

export const auditCommands: Record<string, CliCommand> = {
  verify: {
    summary: 'walk the audit hash chain and check every checkpoint; exits 1 naming broken rows or deleted events',
    async run(container, _values, _positionals, io) {
      const result = await container.auditTrail.verify();
      print(io, result, describeTrail);
      return result.ok ? 0 : 1;
    },
  },
  checkpoint: {
    summary: 'sign a checkpoint of the chain\'s head now (needs audit.checkpoint.key); prints its JWS',
    async run(container, _values, _positionals, io) {
      const { checkpoint } = await container.auditTrail.checkpoints.write({ force: true });
      print(io, checkpointJson(checkpoint),
        (c) => `checkpoint ${c.id}: ${c.count} events through event ${c.last_event_id}\n${c.jws}`);
    },
  },
  'checkpoint-key': {
    summary: 'print a new Ed25519 key for audit.checkpoint.key (PORTCULLIS_AUDIT_CHECKPOINT_KEY): '
      + 'PEM, or --jwk one line',
    usage: '[--jwk]',
    options: { jwk: { type: 'boolean' } },
    async run(_container, values, _positionals, io) {
      const { privateKeyPem, privateJwk, publicJwk } = await generateCheckpointKey();
      const key = { private_key_pem: privateKeyPem, private_jwk: privateJwk, public_jwk: publicJwk };
      print(io, key, (k) => (values.jwk === true ? JSON.stringify(k.private_jwk) : k.private_key_pem.trimEnd()));
    },
  },
  export: {
    summary: 'stream events as JSON lines: since a time, or after a checkpoint (its line first)',
    usage: '--since 2026-01-01T00:00:00Z | --since-checkpoint [--checkpoint ID]',
    options: { since: { type: 'string' }, 'since-checkpoint': { type: 'boolean' }, checkpoint: { type: 'string' } },
    async run(container, values, _positionals, io) {
      if (values['since-checkpoint'] === true) {
        const id = stringOption(values, 'checkpoint');
        if (id !== undefined && !/^\d{1,19}$/.test(id)) throw new UsageError('--checkpoint must be a checkpoint id');
        await container.auditTrail.checkpoints.exportSinceCheckpoint(id, (line) => io.out(line));
        return;
      }
      if (values.checkpoint !== undefined) throw new UsageError('--checkpoint goes with --since-checkpoint');
      const since = new Date(requireString(values, 'since'));
      if (Number.isNaN(since.getTime())) throw new UsageError('--since must be an ISO 8601 date or time');
      await container.audit.exportSince(since, (line) => io.out(line));
    },
  },
  'verify-export': {
    summary: 'check an `audit export --since-checkpoint` copy on standard input against the checkpoint key',
    async run(container, _values, _positionals, io) {
      const result = await container.auditTrail.verifyExport((await io.readStdin()).split('\n'));
      print(io, result, (r) => r.ok
        ? `export intact: checkpoint ${r.checkpointId} (${r.checkpointCount} events) and ${r.events} events after it, `
          + `through event ${r.lastEventId}`
        : `export broken at line ${r.line}: ${r.reason}`);
      return result.ok ? 0 : 1;
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
