import cluster, { type Worker } from 'node:cluster';
import os from 'node:os';
import { migrations } from '../migrations/index.js';
import type { Config, ResolvedConfig } from './config/schema.js';
import type { EmbeddedDatabase } from './infra/embedded-postgres.js';
import { openDataSource } from './infra/data-source.js';
import { migrateAsOwner, resolveDatabaseUrls } from './infra/database-urls.js';
import type { Logger } from './infra/logger.js';
import { workerExecArgv, workerMemoryEnv } from './runtime-memory.js';

/** Config `workers` (WORKERS): unset means one per CPU in production and one elsewhere. */
export function workerCount(config: Pick<Config, 'workers' | 'nodeEnv'>, cpus = os.availableParallelism()): number {
  if (config.workers === 'auto') return cpus;
  return config.workers ?? (config.nodeEnv === 'production' ? cpus : 1);
}

/**
 * libuv threads per worker. argon2 hashes on the threadpool, where JWT signing (WebCrypto), DNS
 * lookups and file reads also run: each worker gets its share of the CPUs for hashing plus two
 * spare threads, and never fewer than libuv's default 4. libuv reads UV_THREADPOOL_SIZE once, at
 * its first use — before our code runs (module loading uses it) — so it can only be given to a
 * process at birth: the primary sets it in each worker's environment.
 */
export function threadpoolSize(workers: number, cpus = os.availableParallelism()): number {
  return Math.max(4, Math.ceil(cpus / workers) + 2);
}

/** Replacement delay after a crash: none for the first in a minute, then doubling up to 30 s. */
export function restartDelayMs(crashesInLastMinute: number): number {
  return crashesInLastMinute <= 1 ? 0 : Math.min(30_000, 1000 * 2 ** (crashesInLastMinute - 2));
}

/** Once-only start-up duties, done before any worker exists: the database and its schema. */
async function prepareDatabase(config: ResolvedConfig, logger: Logger): Promise<{ url: string; embedded?: EmbeddedDatabase }> {
  const { url, migrationUrl, embedded } = await resolveDatabaseUrls(config, logger);
  try {
    if (config.nodeEnv !== 'production') {
      const applied = await migrateAsOwner(migrationUrl, migrations);
      if (applied.length) logger.info({ migrations: applied }, 'migrations applied');
    } else {
      const dataSource = await openDataSource({ url, poolSize: 1, entities: [], migrations });
      const pending = await dataSource.showMigrations().finally(() => dataSource.destroy());
      // Every worker would refuse to start: say it once instead of restarting them forever.
      if (pending) throw new Error('the database has pending migrations: run `npx portcullis migrate` first');
    }
  } catch (error) {
    await embedded?.stop();
    throw error;
  }
  return { url, embedded };
}

/**
 * The cluster primary: prepares the database once, forks `workers` processes that each run the
 * whole server on the shared port, replaces a worker that dies (with backoff), and on SIGTERM or
 * SIGINT lets every worker drain as a single process would, then exits 0.
 *
 * Periodic duties stay in the workers: the signing-key reload must (each worker holds its own
 * provider), the rotation schedule takes an advisory lock, and the expired-row cleaners delete
 * with SKIP LOCKED or idempotent DELETEs — the same as several single-process instances.
 */
export async function runPrimary(config: ResolvedConfig, logger: Logger): Promise<void> {
  const count = workerCount(config);
  const { url, embedded } = await prepareDatabase(config, logger);
  const env: Record<string, string> = {
    ...workerMemoryEnv(config.mallocMmapThreshold),
    // An operator's own setting wins.
    UV_THREADPOOL_SIZE: String(config.threadpoolSize ?? threadpoolSize(count)),
    // Workers join the embedded PostgreSQL the primary started instead of racing to start it.
    ...(embedded ? { DATABASE_URL: url } : {}),
  };
  const listening = new Set<number>();
  const crashes: number[] = [];
  let failedStarts = 0;
  let stopping = false;
  let restartTimers: NodeJS.Timeout[] = [];

  cluster.setupPrimary({ execArgv: workerExecArgv(process.execArgv) });
  const fork = (): Worker => {
    return cluster.fork(env);
  };
  const alive = () => Object.values(cluster.workers ?? {}).filter((worker): worker is Worker => worker !== undefined && !worker.isDead());

  let finishing = false;
  const finish = async (code: number) => {
    if (finishing) return;
    finishing = true;
    await embedded?.stop();
    logger.info({ code }, 'stopped');
    process.exit(code);
  };

  cluster.on('listening', (worker) => {
    listening.add(worker.id);
    failedStarts = 0;
    if (listening.size === count && !stopping) logger.info({ workers: count, port: config.port, threadpool: env.UV_THREADPOOL_SIZE }, 'cluster ready: every worker is listening');
  });

  cluster.on('exit', (worker, code, signal) => {
    const wasListening = listening.delete(worker.id);
    if (stopping) {
      logger.info({ workerPid: worker.process.pid, code, signal }, 'worker stopped');
      if (!alive().length) void finish(0);
      return;
    }
    if (!wasListening) failedStarts += 1;
    const now = Date.now();
    crashes.push(now);
    while (crashes.length && crashes[0]! < now - 60_000) crashes.shift();
    // Every worker is down and none of the last starts got as far as listening: more of the same won't help.
    if (failedStarts >= 5 && !alive().length) {
      logger.fatal({ failedStarts }, 'workers keep failing before they listen: giving up');
      void finish(1);
      return;
    }
    const delay = restartDelayMs(crashes.length);
    logger.error({ workerPid: worker.process.pid, code, signal, restartInMs: delay }, 'worker exited unexpectedly: starting a replacement');
    const timer = setTimeout(() => {
      restartTimers = restartTimers.filter((t) => t !== timer);
      if (!stopping) fork();
    }, delay);
    restartTimers.push(timer);
  });

  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    for (const timer of restartTimers) clearTimeout(timer);
    const workers = alive();
    logger.info({ signal, workers: workers.length }, 'shutting down: every worker drains');
    if (!workers.length) return void finish(0);
    // Workers handle SIGTERM as a single process does: readiness 503, drain, close, exit 0.
    for (const worker of workers) worker.process.kill('SIGTERM');
    const deadline = setTimeout(() => {
      const left = alive();
      logger.warn({ workers: left.map((worker) => worker.process.pid) }, 'workers still running after the grace period: killing them');
      for (const worker of left) worker.process.kill('SIGKILL');
      void finish(1);
    }, (config.http.drainDelaySeconds + config.http.shutdownGraceSeconds + 10) * 1000);
    deadline.unref();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));

  logger.info({ workers: count, threadpool: env.UV_THREADPOOL_SIZE }, 'starting workers');
  for (let i = 0; i < count; i += 1) fork();
}
