import { closeSync, openSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { Target } from './flows.js';
import { memoryEnv, memoryNodeFlags } from '../src/runtime-memory.js';
import { spawnEntry } from './processes.js';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export interface StartOptions {
  workers: number;
  logFile: string;
  cpuProfileDir?: string;
  /** Extra node flags (BENCH_SERVER_NODE_ARGS), after production's so they win. */
  nodeArgs?: string[];
  /** The public issuer, when this instance joins another's (two instances behind one name). */
  issuer?: string;
}

/** Starts Portcullis (build/src/main.js, as `npm start` does) and waits until /readyz answers 200. */
export async function startPortcullis(serverEnv: Record<string, string>, { workers, logFile, cpuProfileDir, nodeArgs = [], issuer: sharedIssuer }: StartOptions) {
  const port = await freePort();
  const issuer = sharedIssuer ?? `https://127.0.0.1:${port}`;
  const logFd = openSync(logFile, 'w');
  // A profile per server process, written when it exits (BENCH_CPU_PROF=dir).
  const profiling = cpuProfileDir ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(cpuProfileDir)}`] : [];
  // Production's memory settings (src/runtime-memory.ts), as package.json `start` and the Dockerfile apply them.
  const flags = [...memoryNodeFlags, ...nodeArgs, ...profiling];
  const child = spawnEntry('build/src/main.js', {
    ...memoryEnv, ...process.env, ...serverEnv, PORT: String(port), ISSUER: issuer, WORKERS: String(workers),
  }, ['ignore', logFd, 'pipe'], flags);
  closeSync(logFd);
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => { stderr = (stderr + chunk.toString()).slice(-4000); });
  const origin = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`Portcullis exited (${child.exitCode}) during start-up: ${stderr.trim()}\n${readFileSync(logFile, 'utf8').slice(-2000)}`);
    if (Date.now() > deadline) throw new Error(`Portcullis did not become ready within 90 s: ${stderr.trim()}`);
    const ready = await fetch(`${origin}/readyz`).then((r) => r.ok, () => false);
    if (ready) break;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const target: Target = { issuer, origin, origins: [origin], proxied: true };
  return { child, target, stderr: () => stderr };
}

/** Error-level lines (pino level ≥ 50) the server logged, and the first one's message. */
export function serverErrors(logFile: string): { count: number; sample?: string } {
  let count = 0;
  let sample: string | undefined;
  for (const line of readFileSync(logFile, 'utf8').split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const entry = JSON.parse(line) as { level?: number; msg?: string; path?: string; status?: number };
      if ((entry.level ?? 0) < 50) continue;
      count++;
      sample ??= `${entry.msg ?? ''}${entry.path ? ` ${entry.path}` : ''}${entry.status ? ` ${entry.status}` : ''}`.slice(0, 200);
    } catch {
      // A partly written last line.
    }
  }
  return { count, sample };
}
