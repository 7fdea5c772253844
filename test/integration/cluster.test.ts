import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { freePort, killServer, spawnServer } from '../helpers/server-process.js';
import { memoryEnv, memoryNodeFlags } from '../../src/runtime-memory.js';
import { createTestDatabase, testRedis } from '../helpers/test-database.js';

interface LogLine { pid?: number; workerPid?: number; msg?: string; requestId?: string; code?: number | null; [key: string]: unknown }

/** Every JSON log line the cluster writes, and a way to wait for the next one that matches. */
function collectLogs(child: ChildProcess) {
  const lines: LogLine[] = [];
  const waiters: Array<{ match: (line: LogLine) => boolean; resolve: (line: LogLine) => void; reject: (error: Error) => void }> = [];
  let buffered = '';
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    buffered += chunk.toString();
    const complete = buffered.split('\n');
    buffered = complete.pop()!;
    for (const text of complete) {
      if (!text.startsWith('{')) continue;
      const line = JSON.parse(text) as LogLine;
      lines.push(line);
      for (const waiter of [...waiters]) {
        if (waiter.match(line)) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(line);
        }
      }
    }
  });
  child.stderr!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
  child.once('exit', (code) => {
    for (const waiter of waiters.splice(0)) waiter.reject(new Error(`exited with ${code}: ${output}`));
  });
  return {
    lines,
    /** The first line (already seen, or still to come) that matches; rejects if the process exits first. */
    waitFor(match: (line: LogLine) => boolean, after = 0): Promise<LogLine> {
      const seen = lines.slice(after).find(match);
      if (seen) return Promise.resolve(seen);
      if (child.exitCode !== null) return Promise.reject(new Error(`exited with ${child.exitCode}: ${output}`));
      return new Promise((resolve, reject) => { waiters.push({ match, resolve, reject }); });
    },
  };
}

/** One request on a connection of its own, so the primary hands each to the next worker. */
function get(port: number, pathname: string, requestId: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: pathname, agent: false, headers: { 'x-request-id': requestId, connection: 'close' } }, (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode!));
    }).on('error', reject);
  });
}

function isRunning(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

let primary: ChildProcess;
let logs: ReturnType<typeof collectLogs>;
let port: number;
let dataDir: string;
const isListening = (line: LogLine) => line.msg === 'Portcullis is listening';

beforeAll(async () => {
  const database = await createTestDatabase();
  const redis = testRedis();
  port = await freePort();
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'portcullis-cluster-'));
  const env = {
    PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: 'test', LOG_LEVEL: 'info', WORKERS: '2',
    PORT: String(port), DATABASE_URL: database.url, DATA_DIR: dataDir,
    PORTCULLIS_COOKIE_KEYS: randomBytes(32).toString('base64url'), PORTCULLIS_ENCRYPTION_KEY: randomBytes(32).toString('base64url'),
    ...(redis ? { REDIS_URL: redis.url, REDIS_KEY_PREFIX: redis.keyPrefix } : {}),
  };
  primary = spawnServer(env);
  logs = collectLogs(primary);
  await logs.waitFor((line) => line.msg === 'cluster ready: every worker is listening');
}, 180_000);

afterAll(async () => {
  await killServer(primary);
  rmSync(dataDir, { recursive: true, force: true });
});

function workerPids(): number[] {
  return logs.lines.filter(isListening).map((line) => line.pid!);
}

it('answers discovery on the one port', async () => {
  const response = await fetch(`http://localhost:${port}/.well-known/openid-configuration`);
  expect(response.status).toBe(200);
  expect((await response.json() as { issuer: string }).issuer).toBe(`http://localhost:${port}`);
});

it('runs two worker processes besides the primary, and both serve requests', async () => {
  const pids = new Set(workerPids());
  expect(pids.size).toBe(2);
  expect(pids.has(primary.pid!)).toBe(false);
  const served = new Set<number>();
  // The primary deals connections out round-robin; a few are enough to reach both.
  for (let attempt = 0; attempt < 20 && served.size < 2; attempt += 1) {
    const requestId = `cluster-test-${attempt}-${randomBytes(4).toString('hex')}`;
    expect(await get(port, '/healthz', requestId)).toBe(200);
    const line = await logs.waitFor((entry) => entry.requestId === requestId && entry.msg === 'request');
    served.add(line.pid!);
  }
  expect(served).toEqual(pids);
});

it("starts workers with production's memory settings although the primary was started without them", async () => {
  // spawnServer runs plain `node build/src/main.js`: no flag, no MALLOC_ variable (src/runtime-memory.ts).
  expect(readFileSync(`/proc/${primary.pid}/cmdline`, 'utf8')).not.toContain('--heap-growing-percent');
  for (const pid of workerPids()) {
    expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')).toEqual(expect.arrayContaining([...memoryNodeFlags]));
    const environment = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
    for (const [name, value] of Object.entries(memoryEnv)) expect(environment).toContain(`${name}=${value}`);
  }
});

it('replaces a worker that dies', async () => {
  const [victim, survivor] = workerPids();
  const seen = logs.lines.length;
  process.kill(victim!, 'SIGKILL');
  const exited = await logs.waitFor((line) => line.msg === 'worker exited unexpectedly: starting a replacement', seen);
  expect(exited).toMatchObject({ workerPid: victim, signal: 'SIGKILL', pid: primary.pid });
  const replacement = await logs.waitFor(isListening, seen);
  expect([victim, survivor, primary.pid]).not.toContain(replacement.pid);
  expect(await get(port, '/healthz', `cluster-after-${randomBytes(4).toString('hex')}`)).toBe(200);
}, 120_000);

it('stops every worker on SIGTERM after they drain, and exits 0', async () => {
  const running = new Set(logs.lines.filter(isListening).map((line) => line.pid!).filter(isRunning));
  expect(running.size).toBe(2);
  const seen = logs.lines.length;
  primary.kill('SIGTERM');
  const [code] = await once(primary, 'exit') as [number | null];
  expect(code).toBe(0);
  const stopped = logs.lines.slice(seen).filter((line) => line.msg === 'worker stopped');
  expect(new Set(stopped.map((line) => line.workerPid))).toEqual(running);
  expect(stopped.every((line) => line.code === 0)).toBe(true);
  // Each worker drained on its own: readiness turned 503, the listener closed, then it exited.
  expect(logs.lines.slice(seen).filter((line) => line.msg === 'stopped' && running.has(line.pid!))).toHaveLength(2);
  for (const pid of running) expect(isRunning(pid)).toBe(false);
}, 60_000);
