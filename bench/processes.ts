import { execFileSync, fork, spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const benchDir = path.dirname(fileURLToPath(import.meta.url));
export const projectRoot = path.resolve(benchDir, '..');

/** The watchdog that ends a child whose parent is gone (plain JavaScript: the server runs without tsx). */
const watchdog = ['--import', path.join(benchDir, 'exit-with-parent.js')];
/** The bench's own modules are TypeScript, run through tsx. */
const execArgv = ['--import', 'tsx', ...watchdog];

const children = new Set<ChildProcess>();

function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** A TypeScript module of the bench in its own process, with an IPC channel. */
export function forkScript(script: string, env: Record<string, string> = {}): ChildProcess {
  return track(fork(path.join(benchDir, script), [], {
    cwd: projectRoot, execArgv, env: { ...process.env, ...env }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  }));
}

/** `npm run build` (incremental): the bench measures the compiled JavaScript that production runs. */
export function buildProject(): void {
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: projectRoot, stdio: 'inherit' });
}

/**
 * A compiled entry point of the project (build/src/main.js) as `npm start` runs it, without IPC.
 * `nodeArgs` (e.g. --cpu-prof, which NODE_OPTIONS refuses) reach cluster workers too: they inherit execArgv.
 */
export function spawnEntry(entry: string, env: Record<string, string>, stdio: StdioOptions, nodeArgs: string[] = []): ChildProcess {
  return track(spawn(process.execPath, [...nodeArgs, ...watchdog, path.join(projectRoot, entry)], { cwd: projectRoot, env, stdio }));
}

/** The first IPC message from `child` that `accept` takes; rejects if the child exits first. */
export function waitForMessage<T>(child: ChildProcess, accept: (message: T) => boolean, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: T) => {
      if (!accept(message)) return;
      child.off('message', onMessage);
      child.off('exit', onExit);
      resolve(message);
    };
    const onExit = (code: number | null) => reject(new Error(`${what} exited (${code}) before answering`));
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

/** Resolves when the child has exited; SIGKILL after `graceMs` if SIGTERM was not enough. */
export async function stopChild(child: ChildProcess, graceMs = 20_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/**
 * Whatever ends the runner (an error, Ctrl-C, SIGTERM from a test runner), the children it
 * started go with it. SIGKILL on the runner is covered by exit-with-parent.ts in each child.
 */
export function stopChildrenOnExit(): void {
  process.on('exit', () => {
    for (const child of children) child.kill('SIGKILL');
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      process.stderr.write(`\nbench: ${signal}, stopping the processes it started\n`);
      void Promise.all([...children].map((child) => stopChild(child, 5_000))).finally(() => process.exit(130));
    });
  }
}

/** The process and its descendants (cluster workers), from /proc. */
export function processTree(pid: number): number[] {
  const pids = [pid];
  for (let i = 0; i < pids.length; i++) {
    try {
      for (const task of readdirSync(`/proc/${pids[i]}/task`)) {
        const kids = readFileSync(`/proc/${pids[i]}/task/${task}/children`, 'utf8').trim();
        if (kids) pids.push(...kids.split(/\s+/).map(Number));
      }
    } catch {
      // The process ended between two reads.
    }
  }
  return pids;
}

/** VmRSS (resident set) of a process in MB (10⁶ bytes, as the target is stated), or undefined once it is gone. */
export function memoryOf(pid: number): { rss: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0);
    return { rss: (kib * 1024) / 1e6 };
  } catch {
    return undefined;
  }
}

export interface RssPeak { /** Largest resident set of any one process, MB. */ perProcess: number; /** Largest sum over the tree, MB. */ total: number; processes: number }

/**
 * Samples the resident set of process trees (each server instance's) every 100 ms while a measurement runs; the peak
 * of the largest process is what the "≤ 200 MB per process" target is read against.
 */
export function sampleRss(roots: number | number[]): { stop(): RssPeak } {
  const peak: RssPeak = { perProcess: 0, total: 0, processes: 0 };
  const sample = () => {
    const pids = [roots].flat().flatMap(processTree);
    let total = 0;
    for (const pid of pids) {
      const memory = memoryOf(pid);
      if (!memory) continue;
      total += memory.rss;
      peak.perProcess = Math.max(peak.perProcess, memory.rss);
    }
    peak.total = Math.max(peak.total, total);
    peak.processes = Math.max(peak.processes, pids.length);
  };
  sample();
  const timer = setInterval(sample, 100);
  return {
    stop() {
      clearInterval(timer);
      sample();
      return { perProcess: Math.round(peak.perProcess), total: Math.round(peak.total), processes: peak.processes };
    },
  };
}

/** All jiffies of /proc/stat's first line, and those not idle (iowait counts as idle). */
function machineTicks(): { all: number; busy: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const all = fields.slice(0, 8).reduce((sum, value) => sum + value, 0);
  return { all, busy: all - fields[3]! - fields[4]! };
}

/**
 * How busy all cores were while a measurement ran, in % (interrupts and softirq included): at
 * 100 % a second instance on the same machine has no CPU left to add throughput with.
 */
export function watchMachineCpu(): { stop(): number } {
  const start = machineTicks();
  return {
    stop() {
      const end = machineTicks();
      return end.all === start.all ? 0 : Math.round((100 * (end.busy - start.busy)) / (end.all - start.all));
    },
  };
}

/**
 * Jiffies the whole machine spent running processes (user, nice, system, steal), from /proc/stat.
 * Interrupt and softirq time is left out: at thousands of requests per second, most of it is the
 * kernel moving the bench's own loopback packets, which no process is charged for.
 */
function machineBusyTicks(): number {
  const [user, nice, system, , , , , steal] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  return user! + nice! + system! + (steal ?? 0);
}

/** utime + stime of a process, in jiffies (0 once it is gone). */
function processTicks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return 0;
  }
}

/** PostgreSQL and Redis processes: the bench's, though others may use the same servers. */
function databasePids(): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (/^(postgres|redis-server)/.test(readFileSync(`/proc/${entry}/comm`, 'utf8'))) pids.push(Number(entry));
    } catch {
      // Gone already.
    }
  }
  return pids;
}

const ticksPerSecond = 100; // USER_HZ on Linux

/**
 * How busy the rest of the machine was while a measurement ran: CPU time used by processes
 * outside the bench's own tree and the databases, as a percentage of all cores. Other work on a
 * shared machine (a test suite, a compiler) skews every figure; the report says how much there was.
 */
export function watchOtherCpu(): { stop(): number } {
  const ours = () => [...processTree(process.pid), ...databasePids()].reduce((sum, pid) => sum + processTicks(pid), 0);
  const started = performance.now();
  const busy0 = machineBusyTicks();
  const ours0 = ours();
  return {
    stop() {
      const seconds = (performance.now() - started) / 1000;
      const other = machineBusyTicks() - busy0 - (ours() - ours0);
      return Math.max(0, Math.round((100 * other) / (seconds * ticksPerSecond * os.availableParallelism())));
    },
  };
}
