import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as oidc from 'openid-client';
import pg from 'pg';
import { afterAll, expect, inject, it } from 'vitest';
import { BrowserAgent } from '../helpers/browser-agent.js';
import { createAccount, signInForTokens } from '../helpers/accounts-fixtures.js';
import { cliRunner } from '../helpers/cli-runner.js';
import { createTestDatabase } from '../helpers/test-database.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

const servers: TestServer[] = [];
const dumpDir = mkdtempSync(path.join(os.tmpdir(), 'portcullis-backup-'));
afterAll(async () => {
  for (const server of servers) await server.close();
  rmSync(dumpDir, { recursive: true, force: true });
});

/** An empty database (the template's schema dropped), as a freshly provisioned server would offer. */
async function emptyDatabase(): Promise<string> {
  const { url } = await createTestDatabase();
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query('DROP SCHEMA public CASCADE; CREATE SCHEMA public');
  await client.end();
  return url;
}

/** pg_dump refuses servers newer than itself (the embedded PostgreSQL is 18, Debian's client 15). */
async function pgDumpCanDump(): Promise<boolean> {
  const client = new pg.Client({ connectionString: inject('pgAdminUrl') });
  await client.connect();
  const { rows } = await client.query<{ v: string }>("SELECT current_setting('server_version_num') AS v");
  await client.end();
  const dumpMajor = Number(/(\d+)\./.exec(execFileSync('pg_dump', ['--version'], { encoding: 'utf8' }))?.[1] ?? 0);
  return dumpMajor >= Math.floor(Number(rows[0]!.v) / 10_000);
}
const dumpable = await pgDumpCanDump();

it.runIf(dumpable)(
  `restores a pg_dump of a live instance${dumpable ? '' : ' (not run: pg_dump is older than the server)'}: people sign in, refresh tokens rotate, the audit chain verifies`,
  async () => {
  const live = await startTestServer();
  servers.push(live);
  const { client, secret } = await live.container.clients.create({ name: 'Backed-up app', type: 'web',
    redirectUris: ['http://127.0.0.1:8765/callback'] }, 'test');
  const person = await createAccount(live);
  const configFor = (server: TestServer) => oidc.discovery(new URL(server.issuer), client.clientId, {},
    oidc.ClientSecretBasic(secret!), { execute: [oidc.allowInsecureRequests] });
  const before = await signInForTokens(new BrowserAgent(), await configFor(live), person,
    { scope: 'openid email offline_access', prompt: 'consent' });
  expect(before.refresh_token).toBeDefined();

  // The backup: a logical dump of the live database, taken while the instance serves.
  const dump = path.join(dumpDir, 'portcullis.dump');
  execFileSync('pg_dump', ['--format=custom', '--no-owner', `--file=${dump}`, live.databaseUrl]);
  const issuerPort = Number(new URL(live.issuer).port);
  await live.close();
  servers.pop();

  const restoredUrl = await emptyDatabase();
  execFileSync('pg_restore', ['--no-owner', '--exit-on-error', `--dbname=${restoredUrl}`, dump]);
  // Same issuer and keys (cookie, encryption) from config; Redis starts empty, as after losing it.
  const env = { ...live.env, DATABASE_URL: restoredUrl, REDIS_KEY_PREFIX: `test:${randomBytes(6).toString('hex')}:` };
  const restored = await startTestServer({}, { shareWith: { env }, port: issuerPort });
  servers.push(restored);
  expect(restored.issuer).toBe(live.issuer);

  const config = await configFor(restored);
  const rotated = await oidc.refreshTokenGrant(config, before.refresh_token!);
  expect(rotated.refresh_token).toBeDefined();
  expect(rotated.refresh_token).not.toBe(before.refresh_token);
  expect(rotated.claims()?.sub).toBe(person.id);

  const after = await signInForTokens(new BrowserAgent(), config, person);
  expect(after.claims()?.sub).toBe(person.id);

  const { cliJson } = cliRunner(() => restored.env);
  const verified = await cliJson<{ ok: boolean; count: number }>(['audit', 'verify']);
  expect(verified.ok).toBe(true);
  expect(verified.count).toBeGreaterThan(0);
},
  120_000,
);
