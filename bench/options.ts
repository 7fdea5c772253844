import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { benchDir } from './processes.js';
import { scenarios, type LoadSettings } from './scenarios.js';

/** Thrown for a bad option: the runner prints its message alone. */
export class UsageError extends Error {}

const flags = {
  smoke: { type: 'boolean', default: false },
  output: { type: 'string' },
  json: { type: 'string' },
  'no-redis': { type: 'boolean', default: false },
  only: { type: 'string' },
} as const;

function parseFlags(argv: string[]) {
  try {
    return parseArgs({ args: argv, options: flags }).values;
  } catch (error) {
    throw new UsageError(`${(error as Error).message}; options: --smoke, --output <file>, --json <file>, --no-redis, --only <scenario,…>`);
  }
}

/** The command line and BENCH_* environment of `npm run bench` (README "Performance"). */
export function readOptions(argv = process.argv.slice(2), env: NodeJS.ProcessEnv = process.env) {
  const args = parseFlags(argv);
  const smoke = args.smoke || env.BENCH_SMOKE === '1';
  /** A numeric setting: warm-up may be 0, counts and durations must be positive. */
  const number = (name: string, fallback: number, { allowZero = false } = {}) => {
    const value = env[name];
    if (value === undefined || value === '') return fallback;
    const parsed = Number(value);
    if (!Number.isFinite(parsed) || parsed < 0 || (parsed === 0 && !allowZero)) throw new UsageError(`${name} must be a ${allowZero ? 'non-negative' : 'positive'} number, not ${value}`);
    return parsed;
  };

  const options = {
    durationMs: number('BENCH_DURATION', smoke ? 1 : 10) * 1000,
    // Even a smoke run warms up: the first requests to a fresh process compile code and can outlast a 1 s run.
    warmupMs: number('BENCH_WARMUP', smoke ? 0.5 : 2, { allowZero: true }) * 1000,
    accounts: number('BENCH_ACCOUNTS', smoke ? 200 : 3000),
    // Both a single process and a two-worker cluster (src/cluster.ts) by default; a smoke run checks one.
    // Then that many instances (WORKERS=1 each) on one database and one Redis, requests spread over them; 1 skips it.
    instances: number('BENCH_INSTANCES', 2),
    workers: (env.BENCH_WORKERS || env.WORKERS || (smoke ? '1' : '1,2')).split(',').map((w) => Number(w.trim())).filter((w) => Number.isInteger(w) && w > 0),
    adminUrl: env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres',
    database: env.BENCH_DATABASE || 'portcullis_bench',
    redisUrl: args['no-redis'] ? undefined : env.REDIS_URL || 'redis://127.0.0.1:6379',
    logLevel: env.BENCH_LOG_LEVEL || 'info',
    // bench/results.md holds a full run's figures; a smoke run's go to a temporary file unless told otherwise.
    output: path.resolve(args.output ?? env.BENCH_OUTPUT ?? (smoke ? path.join(os.tmpdir(), 'portcullis-bench-smoke.md') : path.join(benchDir, 'results.md'))),
    json: args.json ?? env.BENCH_JSON,
    only: (args.only ?? env.BENCH_SCENARIOS)?.split(',').map((s) => s.trim()),
    cpuProfileDir: env.BENCH_CPU_PROF,
    // Extra node flags for the server only (e.g. heap settings), so tsc and the loader keep theirs.
    serverNodeArgs: (env.BENCH_SERVER_NODE_ARGS ?? '').split(/\s+/).filter(Boolean),
    keepDatabase: Boolean(env.BENCH_KEEP_DATABASE),
    keepLogs: Boolean(env.BENCH_KEEP_LOGS),
  };
  const load: LoadSettings = {
    connections: number('BENCH_CONNECTIONS', 16),
    loginVus: number('BENCH_LOGIN_VUS', smoke ? 4 : 8),
    refreshVus: number('BENCH_REFRESH_VUS', smoke ? 4 : 16),
    pacedConcurrency: number('BENCH_PACED_VUS', 32),
  };
  if (!Number.isInteger(options.instances)) throw new UsageError(`BENCH_INSTANCES must be a whole number, not ${options.instances}`);
  if (!options.workers.length) throw new UsageError('WORKERS / BENCH_WORKERS must be positive integers, e.g. 1 or 1,2');
  const selected = scenarios.filter((s) => !options.only || options.only.includes(s.id));
  if (!selected.length) throw new UsageError(`no scenario matches --only ${options.only?.join(',')}; known: ${scenarios.map((s) => s.id).join(', ')}`);
  return { smoke, options, load, selected };
}

export type BenchOptions = ReturnType<typeof readOptions>;
