import { createHash, randomBytes } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { GENESIS_PREV_HASH, hashEvent, type AuditEventContent } from '../audit/audit-chain.js';
import { AUDIT_APPEND_LOCK_KEY } from '../audit/audit-repository.js';
import { canonicalEmail } from '../identifiers/canonical-email.js';
import { print, UsageError, type CliCommand, type OptionValues } from './cli-command.js';

/** Rows per statement: big enough to amortise round trips, small enough to keep each lock short. */
const ACCOUNT_BATCH = 50_000;
const AUDIT_BATCH = 10_000;
const DEFAULT_DOMAIN = 'seed.test';

export interface SeedProgress { (done: number, total: number): void }

/**
 * Inserts verified accounts user<i>@<domain> for i in [1, count], all sharing `passwordHash`
 * (hashed once by the caller: argon2 per account would take hours). Existing emails are
 * skipped, so a rerun only fills the gaps. Returns how many rows were inserted.
 */
// `domain` is canonical (seedDomain), so each address is its own canonical form.
export async function seedAccounts(dataSource: DataSource, options: { count: number; domain: string; passwordHash: string; onProgress?: SeedProgress }): Promise<number> {
  let inserted = 0;
  for (let first = 1; first <= options.count; first += ACCOUNT_BATCH) {
    const last = Math.min(options.count, first + ACCOUNT_BATCH - 1);
    const [{ n }] = await dataSource.query(
      `WITH added AS (
         INSERT INTO accounts (email, email_canonical, email_verified, password_hash, password_changed_at, name)
         SELECT 'user' || i || '@' || $3, 'user' || i || '@' || $3, true, $4, now(), 'Seed user ' || i
         FROM generate_series($1::int, $2::int) AS i
         ON CONFLICT (email_canonical) DO NOTHING
         RETURNING 1)
       SELECT count(*)::int AS n FROM added`, [first, last, options.domain, options.passwordHash]) as [{ n: number }];
    inserted += n;
    options.onProgress?.(last, options.count);
  }
  return inserted;
}

/** A small seeded PRNG (mulberry32), so two runs with the same seed make the same trail. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

// What a busy identity provider's trail looks like: mostly sign-ins and sessions, rare changes.
const ACCOUNT_EVENT_TYPES: Array<[string, number]> = [
  ['login.succeeded', 45], ['session.created', 20], ['login.failed', 15], ['session.ended', 10],
  ['mfa.challenge_passed', 5], ['email.verification_sent', 2], ['account.profile_updated', 1.5],
  ['password.changed', 1], ['account.locked', 0.5],
];
const TOTAL_WEIGHT = ACCOUNT_EVENT_TYPES.reduce((sum, [, weight]) => sum + weight, 0);

function pickType(r: number): string {
  let left = r * TOTAL_WEIGHT;
  for (const [type, weight] of ACCOUNT_EVENT_TYPES) if ((left -= weight) < 0) return type;
  return ACCOUNT_EVENT_TYPES[0]![0];
}

/** Synthetic event content; one in twenty is an admin's change without an account. */
function syntheticEvent(next: () => number, accountIds: string[], occurredAt: string): AuditEventContent {
  const accountId = accountIds[Math.floor(next() * accountIds.length)]!;
  const base = { occurredAt, clientId: null, ip: `198.51.100.${Math.floor(next() * 256)}`, userAgent: 'portcullis-seed', details: {} };
  if (next() < 0.05) return { ...base, type: 'client.updated', actor: `admin:${accountIds[0]}`, accountId: null, clientId: 'seed-client' };
  return { ...base, type: pickType(next()), actor: `account:${accountId}`, accountId };
}

/**
 * Appends `count` synthetic events for the given accounts, spread evenly over the year before now
 * (or since the newest existing event, if later), keeping the SHA-256 chain valid: each batch
 * takes the same advisory lock as live appends, reads the head and hashes on from it, so
 * `audit verify` passes and live events interleave between batches.
 */
export async function seedAuditEvents(dataSource: DataSource, options: { count: number; accountIds: string[]; seed?: number; onProgress?: SeedProgress }): Promise<number> {
  if (!options.accountIds.length) throw new UsageError('no accounts to attach audit events to');
  const next = random(options.seed ?? 1);
  const end = Date.now();
  let start = end - 365 * 86_400_000;
  let written = 0;
  while (written < options.count) {
    const size = Math.min(AUDIT_BATCH, options.count - written);
    await dataSource.transaction(async (tx) => {
      await tx.query(`SELECT pg_advisory_xact_lock($1::bigint)`, [AUDIT_APPEND_LOCK_KEY]);
      const [head] = await tx.query(`SELECT hash, occurred_at FROM audit_events ORDER BY id DESC LIMIT 1`) as Array<{ hash: string; occurred_at: Date }>;
      // Times never go backwards along the chain, even when live events landed in between.
      if (head) start = Math.max(start, head.occurred_at.getTime());
      let prevHash = head?.hash ?? GENESIS_PREV_HASH;
      const columns = { occurredAt: [] as string[], type: [] as string[], actor: [] as string[], accountId: [] as Array<string | null>, clientId: [] as Array<string | null>, ip: [] as string[], prevHash: [] as string[], hash: [] as string[] };
      for (let i = 0; i < size; i += 1) {
        const at = Math.max(start, Math.floor(start + ((end - start) * (written + i)) / options.count));
        const content = syntheticEvent(next, options.accountIds, new Date(at).toISOString());
        const hash = syntheticHash(prevHash, content);
        if (i === 0 && hash !== hashEvent(prevHash, content)) throw new Error('the audit hash format changed: update syntheticHash in seed-commands.ts');
        columns.occurredAt.push(content.occurredAt); columns.type.push(content.type); columns.actor.push(content.actor!);
        columns.accountId.push(content.accountId); columns.clientId.push(content.clientId); columns.ip.push(content.ip!);
        columns.prevHash.push(prevHash); columns.hash.push(hash);
        prevHash = hash;
      }
      // ORDER BY the array position: ids come from the sequence in that order, so id order is chain order.
      await tx.query(
        `INSERT INTO audit_events (occurred_at, type, actor, account_id, client_id, ip, user_agent, details, prev_hash, hash)
         SELECT o, t, a, acc, c, ip, 'portcullis-seed', '{}'::jsonb, p, h
           FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::uuid[], $5::text[], $6::text[], $7::text[], $8::text[])
                WITH ORDINALITY AS u(o, t, a, acc, c, ip, p, h, n)
          ORDER BY n`,
        [columns.occurredAt, columns.type, columns.actor, columns.accountId, columns.clientId, columns.ip, columns.prevHash, columns.hash]);
    });
    written += size;
    options.onProgress?.(written, options.count);
  }
  return written;
}

/**
 * hashEvent for the fixed shape syntheticEvent makes, several times faster than the generic
 * canonical JSON; seedAuditEvents checks it against hashEvent once per batch.
 */
function syntheticHash(prevHash: string, c: AuditEventContent): string {
  const q = JSON.stringify;
  return createHash('sha256').update(`${prevHash}\n{"accountId":${q(c.accountId)},"actor":${q(c.actor)},"clientId":${q(c.clientId)},"details":{},"ip":${q(c.ip)},"occurredAt":${q(c.occurredAt)},"type":${q(c.type)},"userAgent":${q(c.userAgent)}}`).digest('hex');
}

/** Ids of the accounts seeded at `domain`. */
export async function seededAccountIds(dataSource: DataSource, domain: string): Promise<string[]> {
  const rows = await dataSource.query(`SELECT id FROM accounts WHERE email_canonical LIKE '%@' || $1`,
    [domain]) as Array<{ id: string }>;
  return rows.map((row) => row.id);
}

/** The domain in canonical form (an IDN becomes Punycode), plain LDH so `user<i>@<domain>` is canonical too. */
function seedDomain(value: string): string {
  const probe = canonicalEmail(`user@${value}`);
  const domain = probe.ok ? probe.canonical.slice('user@'.length) : '';
  if (!/^[a-z0-9-]+(\.[a-z0-9-]+)+$/.test(domain)) {
    throw new UsageError('--domain must be a domain name such as seed.test');
  }
  return domain;
}

function count(values: OptionValues, name: string, max: number): number {
  const value = values[name];
  if (value === undefined) return 0;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0 || parsed > max) throw new UsageError(`--${name} must be a whole number from 0 to ${max}`);
  return parsed;
}

const perSecond = (rows: number, ms: number) => Math.round(rows / Math.max(ms / 1000, 0.001));

export const seedCommand: CliCommand = {
  summary: 'bulk-insert verified test accounts sharing one password, and synthetic audit events (load and scale tests)',
  usage: '--accounts N [--password P] [--domain D] [--audit-events M]',
  options: { accounts: { type: 'string' }, password: { type: 'string' }, domain: { type: 'string' }, 'audit-events': { type: 'string' } },
  async run(container, values, _positionals, io) {
    const accounts = count(values, 'accounts', 100_000_000);
    const auditEvents = count(values, 'audit-events', 1_000_000_000);
    if (!accounts && !auditEvents) throw new UsageError('nothing to seed: give --accounts N and/or --audit-events M');
    const domain = seedDomain(typeof values.domain === 'string' ? values.domain : DEFAULT_DOMAIN);
    // No well-known default: an unasked-for password is random and shown once.
    const password = typeof values.password === 'string' && values.password ? values.password : randomBytes(18).toString('base64url');
    const { dataSource } = container;
    const result: Record<string, unknown> = { domain };

    if (accounts) {
      const started = Date.now();
      const inserted = await seedAccounts(dataSource, { count: accounts, domain, passwordHash: await container.hasher.hash(password) });
      const ms = Date.now() - started;
      Object.assign(result, { accounts_inserted: inserted, accounts_skipped: accounts - inserted, accounts_seconds: ms / 1000, accounts_per_second: perSecond(inserted, ms) });
      if (values.password === undefined && inserted > 0) result.password = password;
      await container.audit.record({ type: 'accounts.seeded', actor: 'cli', details: { domain, inserted } });
    }
    if (auditEvents) {
      const ids = await seededAccountIds(dataSource, domain);
      if (!ids.length) throw new UsageError(`no accounts at @${domain} to attach audit events to: seed --accounts first`);
      const started = Date.now();
      const written = await seedAuditEvents(dataSource, { count: auditEvents, accountIds: ids });
      const ms = Date.now() - started;
      Object.assign(result, { audit_events_inserted: written, audit_seconds: ms / 1000, audit_events_per_second: perSecond(written, ms) });
    }
    print(io, result, (r) => [
      r.accounts_inserted !== undefined ? `accounts: ${r.accounts_inserted} inserted, ${r.accounts_skipped} already there, ${r.accounts_seconds} s (${r.accounts_per_second}/s) at @${domain}` : '',
      r.password !== undefined ? `password of every seeded account: ${r.password}` : '',
      r.audit_events_inserted !== undefined ? `audit events: ${r.audit_events_inserted} appended, ${r.audit_seconds} s (${r.audit_events_per_second}/s); the chain stays verifiable` : '',
    ].filter(Boolean).join('\n'));
  },
};
