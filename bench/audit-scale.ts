/**
 * Audit trail at scale: seeds a scratch database with millions of chained audit events, then
 * times the admin console's queries (an account's latest 50 events, newest first, with and
 * without a type filter, and the next keyset page) over many random accounts. Appends the result
 * to bench/audit-scale.md.
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npm run bench:audit -- [--rows 10000000]
 *     [--accounts 100000] [--samples 2000] [--fresh]
 *
 * DATABASE_URL names any database on the server; the bench works in portcullis_bench_audit,
 * which it keeps between runs (a rerun tops the trail up instead of seeding it again; --fresh
 * starts over).
 */
import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { migrations } from '../migrations/index.js';
import { createPasswordHasher } from '../src/accounts/password-hasher.js';
import { seedAccounts, seedAuditEvents, seededAccountIds } from '../src/cli/seed-commands.js';
import { openDataSource, runMigrations } from '../src/infra/data-source.js';

const { values } = parseArgs({
  options: { rows: { type: 'string', default: '10000000' }, accounts: { type: 'string', default: '100000' }, samples: { type: 'string', default: '2000' }, fresh: { type: 'boolean' } },
});
const targetRows = Number(values.rows);
const accountCount = Number(values.accounts);
const samples = Number(values.samples);
const scratch = 'portcullis_bench_audit';
const domain = 'bench.test';
const report = path.join(path.dirname(fileURLToPath(import.meta.url)), 'audit-scale.md');

const adminUrl = process.env.DATABASE_URL;
if (!adminUrl) throw new Error('set DATABASE_URL to a PostgreSQL server where this role may create databases');
const scratchUrl = Object.assign(new URL(adminUrl), { pathname: `/${scratch}` }).toString();

const log = (message: string) => process.stderr.write(`${new Date().toISOString()} ${message}\n`);
const seconds = (started: number) => (performance.now() - started) / 1000;

async function prepareDatabase(): Promise<void> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    if (values.fresh) await admin.query(`DROP DATABASE IF EXISTS ${scratch} WITH (FORCE)`);
    const { rowCount } = await admin.query(`SELECT 1 FROM pg_database WHERE datname = $1`, [scratch]);
    if (!rowCount) await admin.query(`CREATE DATABASE ${scratch}`);
  } finally {
    await admin.end();
  }
}

/** Sorted-sample percentile (nearest rank). */
function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

interface Timing { name: string; p50: number; p95: number; p99: number; max: number; meanRows: number }

async function time(client: pg.Client, name: string, sql: string, params: (accountId: string) => unknown[], ids: string[]): Promise<Timing> {
  const durations: number[] = [];
  let rows = 0;
  for (const id of ids) {
    const started = performance.now();
    const result = await client.query({ text: sql, values: params(id), name });
    durations.push(performance.now() - started);
    rows += result.rowCount ?? 0;
  }
  durations.sort((a, b) => a - b);
  const round = (ms: number) => Math.round(ms * 100) / 100;
  return { name, p50: round(percentile(durations, 50)), p95: round(percentile(durations, 95)), p99: round(percentile(durations, 99)), max: round(durations.at(-1)!), meanRows: Math.round(rows / ids.length) };
}

async function main(): Promise<void> {
  await prepareDatabase();
  const dataSource = await openDataSource({ url: scratchUrl, poolSize: 2, entities: [], migrations });
  await runMigrations(dataSource);
  const seedLines: string[] = [];

  const accountsStarted = performance.now();
  const passwordHash = await createPasswordHasher({ memoryCost: 19456, timeCost: 2, parallelism: 1 }).hash(`bench-${Math.random()}`);
  const insertedAccounts = await seedAccounts(dataSource, { count: accountCount, domain, passwordHash });
  if (insertedAccounts) seedLines.push(`accounts: ${insertedAccounts} in ${seconds(accountsStarted).toFixed(1)} s (${Math.round(insertedAccounts / seconds(accountsStarted))}/s)`);
  const ids = await seededAccountIds(dataSource, domain);

  const [{ n: existing }] = await dataSource.query(`SELECT count(*)::bigint AS n FROM audit_events`) as [{ n: string }];
  const missing = targetRows - Number(existing);
  const indexBuilds: string[] = [];
  if (missing > 0) {
    // A bulk load: random inserts into seven B-trees (one keyed on a random hash) crawl once they
    // outgrow shared_buffers, so the secondary indexes go and are rebuilt afterwards, as a
    // restore would. Their definitions come from the catalogue, so they stay the migrations' own.
    const secondary = missing > Number(existing)
      ? await dataSource.query(`SELECT indexname AS name, indexdef AS definition FROM pg_indexes WHERE tablename = 'audit_events' AND indexname <> 'audit_events_pkey'`) as Array<{ name: string; definition: string }>
      : [];
    for (const index of secondary) await dataSource.query(index.definition.includes('UNIQUE') ? `ALTER TABLE audit_events DROP CONSTRAINT ${index.name}` : `DROP INDEX ${index.name}`);
    log(`seeding ${missing} audit events over ${ids.length} accounts${secondary.length ? ` (${secondary.length} secondary indexes dropped meanwhile)` : ''}`);
    const started = performance.now();
    let lastLog = 0;
    await seedAuditEvents(dataSource, {
      count: missing, accountIds: ids, seed: Number(existing) + 1,
      onProgress: (done, total) => {
        if (done - lastLog >= 500_000 || done === total) { lastLog = done; log(`  ${done}/${total} (${Math.round(done / seconds(started))}/s)`); }
      },
    });
    seedLines.push(`audit events: ${missing} in ${seconds(started).toFixed(0)} s (${Math.round(missing / seconds(started))}/s), hash chain computed in Node, appended under the chain lock in batches of 10,000${secondary.length ? ', secondary indexes dropped' : ''}`);
    for (const index of secondary) {
      const built = performance.now();
      await dataSource.query(index.definition.includes('UNIQUE') ? `ALTER TABLE audit_events ADD CONSTRAINT ${index.name} UNIQUE (hash)` : index.definition);
      indexBuilds.push(`${index.name} ${seconds(built).toFixed(0)} s`);
      log(`rebuilt ${index.name}`);
    }
  }
  const [{ n: indexes }] = await dataSource.query(`SELECT count(*)::int AS n FROM pg_indexes WHERE tablename = 'audit_events'`) as [{ n: number }];
  if (indexes < 7) throw new Error('audit_events lacks indexes (an interrupted bulk load?): run again with --fresh');
  await dataSource.query(`VACUUM ANALYZE audit_events`);
  const [{ rows, size }] = await dataSource.query(
    `SELECT count(*)::bigint AS rows, pg_size_pretty(pg_total_relation_size('audit_events')) AS size FROM audit_events`) as [{ rows: string; size: string }];

  await dataSource.destroy();

  const client = new pg.Client({ connectionString: scratchUrl });
  await client.connect();
  const pick = () => Array.from({ length: samples }, () => ids[Math.floor(Math.random() * ids.length)]!);
  const latest = `SELECT * FROM audit_events WHERE account_id = $1 ORDER BY id DESC LIMIT 50`;
  // Warm-up pass: the first run of each statement plans it; the OS page cache is whatever it is.
  await time(client, 'warm-up', latest, (id) => [id], pick().slice(0, 100));
  const results: Timing[] = [
    await time(client, 'latest 50', latest, (id) => [id], pick()),
    await time(client, 'latest 50, type = login.failed (15%)', `SELECT * FROM audit_events WHERE account_id = $1 AND type = $2 ORDER BY id DESC LIMIT 50`, (id) => [id, 'login.failed'], pick()),
    await time(client, 'latest 50, type = password.changed (1%)', `SELECT * FROM audit_events WHERE account_id = $1 AND type = $2 ORDER BY id DESC LIMIT 50`, (id) => [id, 'password.changed'], pick()),
    await time(client, 'latest 50, actor = account:<id>, last 90 days', `SELECT * FROM audit_events WHERE account_id = $1 AND actor = 'account:' || $1 AND occurred_at >= now() - interval '90 days' ORDER BY id DESC LIMIT 50`, (id) => [id], pick()),
    await time(client, 'second page (id < 50th id)', `SELECT * FROM audit_events WHERE account_id = $1 AND id < (SELECT min(id) FROM (SELECT id FROM audit_events WHERE account_id = $1 ORDER BY id DESC LIMIT 50) AS first_page) ORDER BY id DESC LIMIT 50`, (id) => [id], pick()),
    await time(client, 'all accounts, type = account.locked, latest 50', `SELECT * FROM audit_events WHERE type = $1 ORDER BY id DESC LIMIT 50`, () => ['account.locked'], pick().slice(0, 200)),
  ];
  const { rows: plan } = await client.query(`EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT * FROM audit_events WHERE account_id = $1 AND type = $2 ORDER BY id DESC LIMIT 50`, [ids[0], 'password.changed']);
  const [{ version }] = (await client.query(`SELECT current_setting('server_version') AS version`)).rows as [{ version: string }];
  await client.end();

  const lines = [
    `## ${new Date().toISOString()}: ${Number(rows).toLocaleString('en')} events, ${ids.length.toLocaleString('en')} accounts`,
    '',
    `Machine: ${os.availableParallelism()} CPUs (${os.cpus()[0]?.model ?? 'unknown'}), ${Math.round(os.totalmem() / 2 ** 30)} GiB RAM, load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')} at the end; PostgreSQL ${version}; table with indexes: ${size}.`,
    ...(seedLines.length ? ['', 'Seeding:', ...seedLines.map((line) => `- ${line}`)] : []),
    ...(indexBuilds.length ? [`- index builds on the full table (what a migration adding one costs, appends waiting): ${indexBuilds.join(', ')}`] : []),
    '',
    `Query latency over ${samples} random accounts (ms, measured by the client over loopback, warm cache):`,
    '',
    '| Query | p50 | p95 | p99 | max | rows |',
    '| --- | --- | --- | --- | --- | --- |',
    ...results.map((r) => `| ${r.name} | ${r.p50} | ${r.p95} | ${r.p99} | ${r.max} | ${r.meanRows} |`),
    '',
    'Plan of the rare-type query:',
    '',
    '```',
    ...plan.map((row: { 'QUERY PLAN': string }) => row['QUERY PLAN']),
    '```',
    '',
  ];
  if (!existsSync(report)) writeFileSync(report, '# Audit trail at scale\n\nResults of `npm run bench:audit` (bench/audit-scale.ts), newest last.\n\n');
  appendFileSync(report, `${lines.join('\n')}\n`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

await main();
