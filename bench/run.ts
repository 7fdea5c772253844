/**
 * `npm run bench`: starts Portcullis in production mode on a fresh PostgreSQL database (and
 * Redis), loads it from a separate loader process, measures the ceilings (bare oidc-provider,
 * raw argon2id), prints one table per WORKERS setting and writes bench/results.md.
 * Options and environment variables: README "Performance".
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { JSONWebKeySet } from 'jose';
import type { CeilingReply, CeilingRequest, CeilingSettings } from './ceiling-provider.js';
import {
  benchApi, clearRedisPrefix, dropDatabase, dropServiceLogin, createServiceLogin, machineInfo, migrateDatabase,
  recreateDatabase, seed, serverEnvironment, serviceRoleFor, type Seeded,
} from './environment.js';
import { fetchJwks, loginFlow } from './flows.js';
import type { HashReply, HashSettings } from './hash-ceiling.js';
import { createHttpClient, type HttpClient } from './http-client.js';
import type { LoaderJob } from './loader.js';
import { startLoader, type Loader } from './loader-client.js';
import { readOptions, UsageError, type BenchOptions } from './options.js';
import { serverErrors, startPortcullis } from './portcullis-server.js';
import { buildProject, forkScript, sampleRss, stopChild, stopChildrenOnExit, waitForMessage, watchMachineCpu, watchOtherCpu } from './processes.js';
import { ceilingTable, disturbanceWarning, scalingTable, setupName, markdownReport, missedTargets, scenarioTable, type BenchResults, type Measurement, type ScenarioOutcome, type WorkersRun } from './report.js';
import type { ScenarioContext, System, Scenario } from './scenarios.js';

let benchOptions: BenchOptions;
try {
  benchOptions = readOptions();
} catch (error) {
  if (!(error instanceof UsageError)) throw error;
  process.stderr.write(`bench: ${error.message}\n`);
  process.exit(2);
}
const { options, load, selected, smoke } = benchOptions;

const startedAt = performance.now();
/** Progress lines carry the time since start, so a slow phase shows. */
const log = (message: string) => process.stdout.write(message.startsWith('\n') || message.startsWith('|') ? `${message}\n` : `[${((performance.now() - startedAt) / 1000).toFixed(1).padStart(5)} s] ${message}\n`);

/** Runs a job while sampling the memory of the process tree under load. */
async function measure(loader: Loader, job: LoaderJob, serverPids: number[], rate?: number): Promise<Measurement> {
  const sampler = sampleRss(serverPids);
  const elsewhere = watchOtherCpu();
  const machine = watchMachineCpu();
  const outcome = await loader.run(job).then((result) => ({ result }), (error: unknown) => ({ error }));
  const rss = sampler.stop();
  const otherCpu = elsewhere.stop();
  const machineCpu = machine.stop();
  if ('error' in outcome) throw outcome.error;
  return { ...outcome.result, rss, otherCpu, machineCpu, ...(rate ? { rate } : {}) };
}

function describe(m: Measurement, unit: string): string {
  return `${m.throughput.toFixed(1)} ${unit}, p50 ${m.p50} ms, p95 ${m.p95} ms, p99 ${m.p99} ms, ${m.errors} errors, RSS ${m.rss?.perProcess ?? '?'} MB, other processes ${m.otherCpu ?? '?'}% CPU`;
}

/** A scenario that could not run: one error, so the report and the smoke test say so instead of the bench stopping. */
function failed(error: unknown): Measurement {
  const message = error instanceof Error ? error.message : String(error);
  return { ok: 0, errors: 1, seconds: 0, throughput: 0, p50: 0, p95: 0, p99: 0, errorSamples: [`could not run: ${message}`] };
}

/** Warm-up (discarded), a peak run, then optionally a run paced at half the peak rate. */
async function runScenario(loader: Loader, system: System, context: ScenarioContext, scenario: Scenario, pids: number[], withHalf: boolean) {
  let peak: Measurement;
  let half: Measurement | undefined;
  try {
    const prepared = await scenario.prepare(system, context);
    if (options.warmupMs > 0) await loader.run(prepared.peak(options.warmupMs));
    peak = await measure(loader, prepared.peak(options.durationMs), pids);
    if (withHalf) {
      const rate = Math.max(1, peak.throughput / 2);
      half = await measure(loader, prepared.paced(options.durationMs, rate), pids, rate).catch(failed);
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
      target: { issuer: origin, origin, origins: [origin], proxied: false },
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
      const { peak } = await runScenario(loader, system, context, scenario, [child.pid!], false);
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
  const elsewhere = watchOtherCpu();
  try {
    const reply = await waitForMessage<HashReply>(child, () => true, 'the hash ceiling');
    const rss = sampler.stop();
    if (!reply.result) throw new Error(`hash ceiling: ${reply.error}`);
    results.ceilings.hash = { ...reply.result, rss, otherCpu: elsewhere.stop() };
    log(`  ceiling argon2id (m=${settings.memoryCost} KiB, t=${settings.timeCost}, p=${settings.parallelism}): ${describe(results.ceilings.hash, 'hashes/s')}`);
  } finally {
    sampler.stop();
    await stopChild(child);
  }
}

/** One server configuration: `instances` process trees of `workers` each, on one database and one Redis. */
type Setup = Pick<WorkersRun, 'workers' | 'instances'>;

async function startInstances(serverEnv: Record<string, string>, { workers, instances }: Setup, logDir: string) {
  const servers: Awaited<ReturnType<typeof startPortcullis>>[] = [];
  const logFiles: string[] = [];
  try {
    for (let i = 0; i < instances; i++) {
      const logFile = path.join(logDir, `portcullis-workers-${workers}${instances > 1 ? `-instance-${i + 1}` : ''}.log`);
      logFiles.push(logFile);
      // Every instance answers for the first one's issuer, as instances behind one load balancer do.
      servers.push(await startPortcullis(serverEnv, { workers, logFile, cpuProfileDir: options.cpuProfileDir, nodeArgs: options.serverNodeArgs, issuer: servers[0]?.target.issuer }));
    }
  } catch (error) {
    await Promise.all(servers.map((server) => stopChild(server.child)));
    throw error;
  }
  const target = { ...servers[0]!.target, origins: servers.map((server) => server.target.origin) };
  return { servers, logFiles, target, pids: servers.map((server) => server.child.pid!) };
}

async function benchPortcullis(loader: Loader, seeded: Seeded, serverEnv: Record<string, string>, http: HttpClient, setup: Setup, logDir: string, results: BenchResults): Promise<WorkersRun> {
  const { servers, logFiles, target, pids } = await startInstances(serverEnv, setup, logDir);
  const idleRss = sampleRss(pids).stop();
  log(`  ready (pid ${pids.join(', ')}), RSS before any load ${idleRss.perProcess} MB`);
  const run: WorkersRun = { ...setup, idleRss, scenarios: [], serverErrorsLogged: 0 };
  try {
    const jwks: JSONWebKeySet = await fetchJwks(http, target);
    const system: System = {
      target,
      async userinfoToken() {
        const account = { email: seeded.accounts.emailPattern.replace('{n}', String(seeded.accounts.count - 1)), password: seeded.accounts.password };
        return (await loginFlow({ http, target, client: seeded.web, credentials: account, jwks })).access_token;
      },
    };
    const context: ScenarioContext = { http, seeded, jwks, load };
    for (const scenario of selected) {
      const { peak, half } = await runScenario(loader, system, context, scenario, pids, true);
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
    await Promise.all(servers.map((server) => stopChild(server.child)));
    for (const logFile of logFiles) {
      const errors = serverErrors(logFile);
      run.serverErrorsLogged += errors.count;
      run.serverErrorSample ??= errors.sample;
    }
  }
  return run;
}

async function main() {
  stopChildrenOnExit();
  const machine = machineInfo();
  log(`bench: ${smoke ? 'smoke run' : 'full run'}, ${options.durationMs / 1000} s per scenario, WORKERS=${options.workers.join(',')}, ${machine.cpu} × ${machine.cores}, Node ${machine.node}, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  log('bench: npm run build');
  buildProject();
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'portcullis-bench-'));
  const redisPrefix = `bench:${randomBytes(6).toString('hex')}:`;
  const ownerUrl = await recreateDatabase(options.adminUrl, options.database);
  const serviceRole = serviceRoleFor(options.database);
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
    // Deployed as production is (README "Database roles"): `portcullis migrate` as the owner, then
    // every server process as a login in portcullis_app; a production start refuses the owner.
    log(`bench: migrating ${options.database} as the owner; the servers run as ${serviceRole}`);
    await migrateDatabase(ownerUrl);
    const databaseUrl = await createServiceLogin(ownerUrl, serviceRole);
    const serverEnv = serverEnvironment({
      databaseUrl, migrationUrl: ownerUrl, redisUrl: options.redisUrl, redisPrefix, dataDir: tmp,
      logLevel: options.logLevel,
    });
    log(`bench: seeding ${options.accounts} accounts into ${options.database}`);
    const seeded = await seed(serverEnv, options.accounts);
    results.settings.argon2 = `m=${seeded.config.argon2.memoryCost} KiB t=${seeded.config.argon2.timeCost} p=${seeded.config.argon2.parallelism}`;
    log('bench: ceilings');
    if (selected.some((s) => s.ceiling === 'hash')) await measureHashCeiling(seeded, results);
    if (selected.some((s) => s.ceiling === 'provider')) await measureProviderCeiling(loader, seeded, http, results);
    const setups: Setup[] = [...options.workers.map((workers) => ({ workers, instances: 1 })), ...(options.instances > 1 ? [{ workers: 1, instances: options.instances }] : [])];
    for (const setup of setups) {
      log(`bench: Portcullis, ${setupName(setup)}`);
      results.runs.push(await benchPortcullis(loader, seeded, serverEnv, http, setup, tmp, results));
    }
  } finally {
    http.close();
    await stopChild(loader.child);
    if (!options.keepDatabase) await dropDatabase(options.adminUrl, options.database).catch((error: unknown) => log(`bench: could not drop ${options.database}: ${String(error)}`));
    if (!options.keepDatabase) {
      await dropServiceLogin(options.adminUrl, serviceRole)
        .catch((error: unknown) => log(`bench: could not drop role ${serviceRole}: ${String(error)}`));
    }
    if (options.redisUrl) await clearRedisPrefix(options.redisUrl, redisPrefix).catch((error: unknown) => log(`bench: could not clear Redis keys ${redisPrefix}*: ${String(error)}`));
    if (options.keepLogs) log(`bench: server logs kept in ${tmp}`);
    else rmSync(tmp, { recursive: true, force: true });
  }

  for (const run of results.runs) log(`\nPortcullis, ${setupName(run)}\n${scenarioTable(run)}\nserver errors logged: ${run.serverErrorsLogged}`);
  const scaling = scalingTable(results);
  if (scaling) log(`\nInstances against one process\n${scaling}`);
  log(`\nCeilings\n${ceilingTable(results)}`);
  const warning = disturbanceWarning(results);
  if (warning) log(`\n${warning.replace(/\*\*/g, '')}`);
  mkdirSync(path.dirname(options.output), { recursive: true });
  // What profiling found is kept beside the bench and carried into every report.
  const findingsFile = path.join(import.meta.dirname, 'findings.md');
  const findings = existsSync(findingsFile) ? `\n${readFileSync(findingsFile, 'utf8')}` : '';
  writeFileSync(options.output, markdownReport(results) + findings);
  if (options.json) writeFileSync(options.json, `${JSON.stringify(results, null, 2)}\n`);
  log(`\nbench: results written to ${options.output}`);
}

main().then(() => process.exit(0), (error: unknown) => {
  process.stderr.write(`bench: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
  process.exit(1);
});
