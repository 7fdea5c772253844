/**
 * `npm run bench`: starts Portcullis in production mode on a fresh PostgreSQL database (and
 * Redis), loads it from a separate loader process, measures the ceilings (bare oidc-provider,
 * raw argon2id), prints one table per WORKERS setting and writes bench/results.md.
 * Options and environment variables: README "Performance".
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, closeSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { ChildProcess } from 'node:child_process';
import type { JSONWebKeySet } from 'jose';
import type { CeilingReply, CeilingRequest, CeilingSettings } from './ceiling-provider.js';
import { benchApi, clearRedisPrefix, dropDatabase, machineInfo, recreateDatabase, seed, serverEnvironment, type Seeded } from './environment.js';
import { fetchJwks, loginFlow, type Target } from './flows.js';
import type { HashReply, HashSettings } from './hash-ceiling.js';
import { createHttpClient, type HttpClient } from './http-client.js';
import type { LoaderJob, LoaderMessage, LoaderReply } from './loader.js';
import type { LoadResult } from './load-engine.js';
import { benchDir, forkScript, sampleRss, spawnEntry, stopChild, stopChildrenOnExit } from './processes.js';
import { ceilingTable, markdownReport, missedTargets, scenarioTable, type BenchResults, type Measurement, type ScenarioOutcome, type WorkersRun } from './report.js';
import { scenarios, type LoadSettings, type ScenarioContext, type System } from './scenarios.js';

const { values: args } = parseArgs({
  options: {
    smoke: { type: 'boolean', default: false },
    output: { type: 'string' },
    json: { type: 'string' },
    'no-redis': { type: 'boolean', default: false },
    only: { type: 'string' },
  },
});

const env = process.env;
const smoke = args.smoke || env.BENCH_SMOKE === '1';
const number = (name: string, fallback: number) => {
  const value = env[name];
  if (value === undefined || value === '') return fallback;
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed < 0) throw new Error(`${name} must be a non-negative number, not ${value}`);
  return parsed;
};

const options = {
  durationMs: number('BENCH_DURATION', smoke ? 1 : 10) * 1000,
  // Even a smoke run warms up: the first requests to a fresh process compile code and can outlast a 1 s run.
  warmupMs: number('BENCH_WARMUP', smoke ? 0.5 : 2) * 1000,
  accounts: number('BENCH_ACCOUNTS', smoke ? 200 : 3000),
  workers: (env.BENCH_WORKERS ?? env.WORKERS ?? '1').split(',').map((w) => Number(w.trim())).filter((w) => Number.isInteger(w) && w > 0),
  adminUrl: env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres',
  database: env.BENCH_DATABASE || 'portcullis_bench',
  redisUrl: args['no-redis'] ? undefined : env.REDIS_URL || 'redis://127.0.0.1:6379',
  logLevel: env.BENCH_LOG_LEVEL || 'info',
  // bench/results.md holds a full run's figures; a smoke run's go to a temporary file unless told otherwise.
  output: path.resolve(args.output ?? env.BENCH_OUTPUT ?? (smoke ? path.join(os.tmpdir(), 'portcullis-bench-smoke.md') : path.join(benchDir, 'results.md'))),
  json: args.json ?? env.BENCH_JSON,
  only: (args.only ?? env.BENCH_SCENARIOS)?.split(',').map((s) => s.trim()),
  cpuProfileDir: env.BENCH_CPU_PROF,
};
const load: LoadSettings = {
  connections: number('BENCH_CONNECTIONS', 16),
  loginVus: number('BENCH_LOGIN_VUS', smoke ? 4 : 8),
  refreshVus: number('BENCH_REFRESH_VUS', smoke ? 4 : 16),
  pacedConcurrency: number('BENCH_PACED_VUS', 32),
};
if (!options.workers.length) throw new Error('WORKERS / BENCH_WORKERS must be positive integers, e.g. 1 or 1,2');
const selected = scenarios.filter((s) => !options.only || options.only.includes(s.id));
if (!selected.length) throw new Error(`no scenario matches --only ${options.only?.join(',')}; known: ${scenarios.map((s) => s.id).join(', ')}`);

const startedAt = performance.now();
/** Progress lines carry the time since start, so a slow phase shows. */
const log = (message: string) => process.stdout.write(message.startsWith('\n') || message.startsWith('|') ? `${message}\n` : `[${((performance.now() - startedAt) / 1000).toFixed(1).padStart(5)} s] ${message}\n`);

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

/** The loader process and a promise-per-job view of its IPC channel. */
function startLoader() {
  const child = forkScript('loader.ts');
  const pending = new Map<number, { resolve(result: LoadResult): void; reject(error: Error): void }>();
  let nextId = 0;
  child.on('message', (reply: LoaderReply) => {
    const waiter = pending.get(reply.id);
    pending.delete(reply.id);
    if (reply.result) waiter?.resolve(reply.result);
    else waiter?.reject(new Error(`loader: ${reply.error}`));
  });
  child.once('exit', (code, signal) => {
    for (const waiter of pending.values()) waiter.reject(new Error(`the loader exited (${signal ?? code})`));
    pending.clear();
  });
  return {
    child,
    run(job: LoaderJob): Promise<LoadResult> {
      return new Promise((resolve, reject) => {
        const id = nextId++;
        pending.set(id, { resolve, reject });
        child.send({ id, job } satisfies LoaderMessage);
      });
    },
  };
}
type Loader = ReturnType<typeof startLoader>;

/** Runs a job while sampling the memory of the process tree under load. */
async function measure(loader: Loader, job: LoaderJob, serverPid: number, rate?: number): Promise<Measurement> {
  const sampler = sampleRss(serverPid);
  try {
    const result = await loader.run(job);
    return { ...result, rss: sampler.stop(), ...(rate ? { rate } : {}) };
  } finally {
    sampler.stop();
  }
}

function describe(m: Measurement, unit: string): string {
  return `${m.throughput.toFixed(1)} ${unit}, p50 ${m.p50} ms, p95 ${m.p95} ms, p99 ${m.p99} ms, ${m.errors} errors, RSS ${m.rss?.perProcess ?? '?'} MB`;
}

function waitForMessage<T>(child: ChildProcess, accept: (message: T) => boolean, what: string): Promise<T> {
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

/** Starts Portcullis (src/main.ts, as `npm start` does) and waits until /readyz answers 200. */
async function startPortcullis(serverEnv: Record<string, string>, workers: number, logFile: string) {
  const port = await freePort();
  const logFd = openSync(logFile, 'w');
  // A profile per server process, written when it exits (BENCH_CPU_PROF=dir).
  const profiling = options.cpuProfileDir ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(options.cpuProfileDir)}`] : [];
  const child = spawnEntry('src/main.ts', {
    ...process.env, ...serverEnv, PORT: String(port), ISSUER: `https://127.0.0.1:${port}`, WORKERS: String(workers),
  }, ['ignore', logFd, 'pipe'], profiling);
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
  const target: Target = { issuer: `https://127.0.0.1:${port}`, origin, proxied: true };
  return { child, target, stderr: () => stderr };
}

/** Error-level lines (pino level ≥ 50) the server logged, and the first one's message. */
function serverErrors(logFile: string): { count: number; sample?: string } {
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

/** A scenario that could not run: one error, so the report and the smoke test say so instead of the bench stopping. */
function failed(error: unknown): Measurement {
  const message = error instanceof Error ? error.message : String(error);
  return { ok: 0, errors: 1, seconds: 0, throughput: 0, p50: 0, p95: 0, p99: 0, errorSamples: [`could not run: ${message}`] };
}

/** Warm-up (discarded), a peak run, then optionally a run paced at half the peak rate. */
async function runScenario(loader: Loader, system: System, context: ScenarioContext, scenario: (typeof scenarios)[number], pid: number, withHalf: boolean) {
  let peak: Measurement;
  let half: Measurement | undefined;
  try {
    const prepared = await scenario.prepare(system, context);
    if (options.warmupMs > 0) await loader.run(prepared.peak(options.warmupMs));
    peak = await measure(loader, prepared.peak(options.durationMs), pid);
    if (withHalf) {
      const rate = Math.max(1, peak.throughput / 2);
      half = await measure(loader, prepared.paced(options.durationMs, rate), pid, rate).catch(failed);
    }
  } catch (error) {
    peak = failed(error);
    if (withHalf) half = failed(error);
  }
  return { peak, half };
}

/** The protocol-engine ceiling: the same HTTP scenarios against a bare oidc-provider. */
async function measureProviderCeiling(loader: Loader, seeded: Seeded, http: HttpClient, results: BenchResults) {
  const settings: CeilingSettings = {
    algorithm: seeded.config.keys.algorithm, service: seeded.service, web: seeded.web,
    api: { identifier: benchApi, scopes: seeded.config.apis.find((api) => api.identifier === benchApi)!.scopes, accessTokenTtl: 600 },
  };
  const child = forkScript('ceiling-provider.ts', { NODE_ENV: 'production', BENCH_CEILING: JSON.stringify(settings) });
  try {
    const ready = await waitForMessage<CeilingReply>(child, (m) => 'type' in m && m.type === 'ready', 'the ceiling provider');
    const origin = (ready as { origin: string }).origin;
    let nextId = 0;
    const system: System = {
      target: { issuer: origin, origin, proxied: false },
      async userinfoToken() {
        const id = nextId++;
        const reply = waitForMessage<CeilingReply>(child, (m) => 'id' in m && m.id === id, 'the ceiling provider');
        child.send({ id, type: 'mint-userinfo-token' } satisfies CeilingRequest);
        const answer = await reply as { token?: string; error?: string };
        if (!answer.token) throw new Error(`ceiling provider: ${answer.error}`);
        return answer.token;
      },
    };
    const context: ScenarioContext = { http, seeded, jwks: { keys: [] }, load };
    for (const scenario of selected.filter((s) => s.ceiling === 'provider')) {
      const { peak } = await runScenario(loader, system, context, scenario, child.pid!, false);
      results.ceilings.provider[scenario.id] = peak;
      log(`  ceiling ${scenario.id}: ${describe(peak, scenario.unit)}`);
    }
  } finally {
    await stopChild(child);
  }
}

async function measureHashCeiling(seeded: Seeded, results: BenchResults) {
  const settings: HashSettings = { ...seeded.config.argon2, durationMs: options.durationMs };
  const child = forkScript('hash-ceiling.ts', { BENCH_HASH: JSON.stringify(settings) });
  const sampler = sampleRss(child.pid!);
  try {
    const reply = await waitForMessage<HashReply>(child, () => true, 'the hash ceiling');
    if (!reply.result) throw new Error(`hash ceiling: ${reply.error}`);
    results.ceilings.hash = { ...reply.result, rss: sampler.stop() };
    log(`  ceiling argon2id (m=${settings.memoryCost} KiB, t=${settings.timeCost}, p=${settings.parallelism}): ${describe(results.ceilings.hash, 'hashes/s')}`);
  } finally {
    sampler.stop();
    await stopChild(child);
  }
}

async function benchPortcullis(loader: Loader, seeded: Seeded, serverEnv: Record<string, string>, http: HttpClient, workers: number, logDir: string, results: BenchResults): Promise<WorkersRun> {
  const logFile = path.join(logDir, `portcullis-workers-${workers}.log`);
  const server = await startPortcullis(serverEnv, workers, logFile);
  log(`  ready (pid ${server.child.pid})`);
  const run: WorkersRun = { workers, scenarios: [], serverErrorsLogged: 0 };
  try {
    const jwks: JSONWebKeySet = await fetchJwks(http, server.target);
    const system: System = {
      target: server.target,
      async userinfoToken() {
        const account = { email: seeded.accounts.emailPattern.replace('{n}', String(seeded.accounts.count - 1)), password: seeded.accounts.password };
        return (await loginFlow({ http, target: server.target, client: seeded.web, credentials: account, jwks })).access_token;
      },
    };
    const context: ScenarioContext = { http, seeded, jwks, load };
    for (const scenario of selected) {
      const { peak, half } = await runScenario(loader, system, context, scenario, server.child.pid!, true);
      const ceilingThroughput = scenario.ceiling === 'hash' ? results.ceilings.hash?.throughput : results.ceilings.provider[scenario.id]?.throughput;
      const partial: Omit<ScenarioOutcome, 'misses'> = {
        id: scenario.id, title: scenario.title, unit: scenario.unit, peak, half,
        ...(ceilingThroughput ? { ceiling: { name: scenario.ceiling === 'hash' ? 'argon2id' : 'oidc-provider', throughput: ceilingThroughput }, ratio: peak.throughput / ceilingThroughput } : {}),
      };
      const outcome = { ...partial, misses: missedTargets(scenario, partial) };
      run.scenarios.push(outcome);
      log(`  ${scenario.id}: ${describe(peak, scenario.unit)}${outcome.ratio !== undefined ? `, ${outcome.ratio.toFixed(2)}× ceiling` : ''}`);
      if (half) log(`  ${scenario.id} at ½ peak (${half.rate?.toFixed(1) ?? '?'}/s): ${describe(half, scenario.unit)}`);
    }
  } finally {
    await stopChild(server.child);
    const errors = serverErrors(logFile);
    run.serverErrorsLogged = errors.count;
    run.serverErrorSample = errors.sample;
  }
  return run;
}

async function main() {
  stopChildrenOnExit();
  const machine = machineInfo();
  log(`bench: ${smoke ? 'smoke run' : 'full run'}, ${options.durationMs / 1000} s per scenario, WORKERS=${options.workers.join(',')}, ${machine.cpu} × ${machine.cores}, Node ${machine.node}, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'portcullis-bench-'));
  const redisPrefix = `bench:${randomBytes(6).toString('hex')}:`;
  const databaseUrl = await recreateDatabase(options.adminUrl, options.database);
  const serverEnv = serverEnvironment({ databaseUrl, redisUrl: options.redisUrl, redisPrefix, dataDir: tmp, logLevel: options.logLevel });
  const http = createHttpClient(4);
  const loader = startLoader();
  const results: BenchResults = {
    machine,
    settings: {
      mode: smoke ? 'smoke' : 'full', durationSeconds: options.durationMs / 1000, warmupSeconds: options.warmupMs / 1000,
      connections: load.connections, loginVus: load.loginVus, refreshVus: load.refreshVus, accounts: options.accounts,
      redis: options.redisUrl ? 'yes' : 'no', logLevel: options.logLevel,
    },
    ceilings: { provider: {} },
    runs: [],
  };
  try {
    log(`bench: seeding ${options.accounts} accounts into ${options.database}`);
    const seeded = await seed(serverEnv, options.accounts);
    results.settings.argon2 = `m=${seeded.config.argon2.memoryCost} KiB t=${seeded.config.argon2.timeCost} p=${seeded.config.argon2.parallelism}`;
    log('bench: ceilings');
    if (selected.some((s) => s.ceiling === 'hash')) await measureHashCeiling(seeded, results);
    if (selected.some((s) => s.ceiling === 'provider')) await measureProviderCeiling(loader, seeded, http, results);
    for (const workers of options.workers) {
      log(`bench: Portcullis, WORKERS=${workers}`);
      results.runs.push(await benchPortcullis(loader, seeded, serverEnv, http, workers, tmp, results));
    }
  } finally {
    http.close();
    await stopChild(loader.child);
    if (!env.BENCH_KEEP_DATABASE) await dropDatabase(options.adminUrl, options.database).catch((error: unknown) => log(`bench: could not drop ${options.database}: ${String(error)}`));
    if (options.redisUrl) await clearRedisPrefix(options.redisUrl, redisPrefix).catch((error: unknown) => log(`bench: could not clear Redis keys ${redisPrefix}*: ${String(error)}`));
    if (env.BENCH_KEEP_LOGS) log(`bench: server logs kept in ${tmp}`);
    else rmSync(tmp, { recursive: true, force: true });
  }

  for (const run of results.runs) log(`\nPortcullis, WORKERS=${run.workers}\n${scenarioTable(run)}\nserver errors logged: ${run.serverErrorsLogged}`);
  log(`\nCeilings\n${ceilingTable(results)}`);
  mkdirSync(path.dirname(options.output), { recursive: true });
  writeFileSync(options.output, markdownReport(results));
  if (options.json) writeFileSync(options.json, `${JSON.stringify(results, null, 2)}\n`);
  log(`\nbench: results written to ${options.output}`);
}

main().then(() => process.exit(0), (error: unknown) => {
  process.stderr.write(`bench: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
  process.exit(1);
});
