import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { freePort } from './server-process.js';

const bin = process.env.PG_BIN_DIR ?? '/usr/lib/postgresql/15/bin';

/**
 * A PostgreSQL of a test's own (system binaries, private data directory and free port), so a
 * fault test can stop or kill -9 it without touching the suite's shared server.
 */
export interface PrivatePostgres {
  url: string;
  port: number;
  /** Fast shutdown (SIGINT to the postmaster): clients see 57P01 and refused connections. */
  stop(): Promise<void>;
  /** kill -9 of the postmaster and every backend: sockets reset, no goodbye. */
  kill(): Promise<void>;
  /** SIGSTOP to every PostgreSQL process: connections stay open and nothing answers (a hung server). */
  pause(): void;
  /** SIGCONT: the hung server answers again. */
  resume(): void;
  /** Starts again on the same port and data directory and waits until it accepts queries. */
  start(): Promise<void>;
  /** Stops it for good and removes its data directory. */
  destroy(): Promise<void>;
}

/** Runs as the `postgres` user when we are root (initdb and postgres refuse to run as root). */
function identity(): { uid?: number; gid?: number } {
  if (process.getuid?.() !== 0) return {};
  const uid = Number(spawnSync('id', ['-u', 'postgres']).stdout.toString().trim());
  const gid = Number(spawnSync('id', ['-g', 'postgres']).stdout.toString().trim());
  return { uid, gid };
}

async function waitUntilReady(url: string, boundMs = 15_000): Promise<void> {
  const deadline = Date.now() + boundMs;
  for (;;) {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
    client.on('error', () => {});
    try {
      await client.connect();
      await client.query('SELECT 1');
      await client.end();
      return;
    } catch (error) {
      await client.end().catch(() => {});
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/** initdb + postgres on 127.0.0.1:<free port>, trust authentication, fsync off. */
export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'portcullis-private-pg-'));
  const data = path.join(dir, 'data');
  const user = identity();
  if (user.uid !== undefined) chownSync(dir, user.uid, user.gid!);
  const init = spawnSync(
    path.join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8'],
    { ...user, encoding: 'utf8' },
  );
  if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr}`);
  const port = await freePort();
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  let child: ChildProcess | undefined;

  async function start(): Promise<void> {
    child = spawn(path.join(bin, 'postgres'), [
      '-D', data, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=',
      '-c', 'fsync=off', '-c', 'max_connections=50', '-c', 'logging_collector=off',
    ], { ...user, stdio: 'ignore' });
    await waitUntilReady(url);
  }

  /**
   * The postmaster and its children. Each backend makes itself a session leader (setsid in
   * InitPostmasterChild), so a process-group signal would reach the postmaster only.
   */
  function processes(): number[] {
    const pid = child?.pid;
    if (!pid) return [];
    const children = spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
      .stdout.split('\n').filter(Boolean).map(Number);
    return [pid, ...children];
  }

  function signalAll(name: NodeJS.Signals): void {
    for (const pid of processes()) {
      try { process.kill(pid, name); } catch { /* already gone */ }
    }
  }

  async function signal(name: NodeJS.Signals, all: boolean): Promise<void> {
    const running = child;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = once(running, 'exit');
    const backends = all ? processes().slice(1) : [];
    if (all) signalAll(name);
    else running.kill(name);
    await exited;
    // Killed backends are gone at once; wait until none is left holding shared memory.
    const deadline = Date.now() + 10_000;
    const alive = () => backends.filter((pid) => {
      try { process.kill(pid, 0); return true; } catch { return false; }
    });
    while (Date.now() < deadline && alive().length) await new Promise((resolve) => setTimeout(resolve, 50));
  }

  await start();
  return {
    url, port,
    stop: () => signal('SIGINT', false),
    kill: () => signal('SIGKILL', true),
    pause: () => signalAll('SIGSTOP'),
    resume: () => signalAll('SIGCONT'),
    start,
    async destroy() {
      await signal('SIGINT', false);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
