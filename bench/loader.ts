/**
 * The load generator, a process of its own so it never shares an event loop with the server it
 * measures. The runner sends jobs over IPC; each answer is a LoadResult. It exits when the runner
 * goes away (the IPC channel closes).
 */
import autocannon from 'autocannon';
import type { JSONWebKeySet } from 'jose';
import { createHttpClient, type HttpClient } from './http-client.js';
import { loginFlow, rotateRefreshToken, nextClientIp, type Credentials, type Target, type WebClient } from './flows.js';
import { createRecorder, runLoad, type LoadResult } from './load-engine.js';

export interface BenchRequest { method: 'GET' | 'POST'; path: string; headers?: Record<string, string>; body?: string }

export interface AccountPool { emailPattern: string; count: number; password: string }

/** Flat out with autocannon: the peak throughput of a single-request scenario, connections spread over the instances. */
export interface AutocannonJob { type: 'autocannon'; origins: string[]; requests: BenchRequest[]; connections: number; durationMs: number }
/** Evenly paced requests at `rate` per second: latency at a given load (half the peak); the instances in turn. */
export interface PacedHttpJob { type: 'paced-http'; origins: string[]; requests: BenchRequest[]; concurrency: number; durationMs: number; rate: number }
/** Whole sign-in flows (or refresh-token rotations) by virtual users, flat out or paced. */
export interface FlowJob {
  type: 'login' | 'refresh';
  target: Target;
  client: WebClient;
  accounts: AccountPool;
  jwks: JSONWebKeySet;
  concurrency: number;
  durationMs: number;
  rate?: number;
}
export type LoaderJob = AutocannonJob | PacedHttpJob | FlowJob;

export type LoaderMessage = { id: number; job: LoaderJob };
export type LoaderReply = { id: number; result?: LoadResult; error?: string };

/** Accounts are used in turn, so per-account sign-in limits never see one account twice a minute. */
let accountCursor = 0;
function nextAccount(pool: AccountPool): Credentials {
  const index = accountCursor++ % pool.count;
  return { email: pool.emailPattern.replace('{n}', String(index)), password: pool.password };
}

/** One autocannon per instance, sharing the connections; one recorder sees every response. */
async function runAutocannon(job: AutocannonJob): Promise<LoadResult> {
  const recorder = createRecorder();
  const connections = Math.max(1, Math.round(job.connections / job.origins.length));
  const results = await Promise.all(job.origins.map((origin) => {
    const instance = autocannon({
      url: origin, connections, duration: job.durationMs / 1000,
      requests: job.requests.map((request) => ({ ...request })),
    });
    instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
      if (status >= 200 && status < 300) recorder.success(ms);
      else recorder.failure(`HTTP ${status}`);
    });
    return instance;
  }));
  for (const result of results) {
    for (let i = 0; i < result.errors; i++) recorder.failure('connection error');
    for (let i = 0; i < result.timeouts; i++) recorder.failure('timeout');
  }
  return recorder.result(Math.max(...results.map((result) => result.duration)));
}

async function runPacedHttp(job: PacedHttpJob, http: HttpClient): Promise<LoadResult> {
  const positions = new Array<number>(job.concurrency).fill(0);
  let turn = 0;
  return runLoad({
    concurrency: job.concurrency, durationMs: job.durationMs, rate: job.rate,
    async iterate(vu) {
      const request = job.requests[positions[vu]!++ % job.requests.length]!;
      const response = await http.request(new URL(request.path, job.origins[turn++ % job.origins.length]), request);
      if (response.status < 200 || response.status >= 300) throw new Error(`HTTP ${response.status} ${request.path}: ${response.body.slice(0, 200)}`);
    },
  });
}

async function runFlows(job: FlowJob, http: HttpClient): Promise<LoadResult> {
  const flow = { http, target: job.target, client: job.client, jwks: job.jwks };
  if (job.type === 'login') {
    return runLoad({
      concurrency: job.concurrency, durationMs: job.durationMs, rate: job.rate,
      iterate: async () => { await loginFlow({ ...flow, credentials: nextAccount(job.accounts) }); },
    });
  }
  // Each virtual user signs in once (not measured) and then rotates its own refresh-token chain.
  const chains = await Promise.all(Array.from({ length: job.concurrency }, async () => {
    const tokens = await loginFlow({ ...flow, credentials: nextAccount(job.accounts), scope: 'openid offline_access', prompt: 'consent' });
    if (!tokens.refresh_token) throw new Error('no refresh token from a sign-in with offline_access and prompt=consent');
    return { refreshToken: tokens.refresh_token, ip: nextClientIp() };
  }));
  return runLoad({
    concurrency: job.concurrency, durationMs: job.durationMs, rate: job.rate,
    async iterate(vu) {
      const chain = chains[vu]!;
      chain.refreshToken = await rotateRefreshToken(http, job.target, job.client, chain.refreshToken, chain.ip);
    },
  });
}

async function run(job: LoaderJob): Promise<LoadResult> {
  if (job.type === 'autocannon') return runAutocannon(job);
  const http = createHttpClient(job.concurrency);
  try {
    return job.type === 'paced-http' ? await runPacedHttp(job, http) : await runFlows(job, http);
  } finally {
    http.close();
  }
}

if (!process.send) throw new Error('bench/loader.ts runs as a child of bench/run.ts (IPC)');
process.on('message', (message: LoaderMessage) => {
  run(message.job).then(
    (result) => process.send!({ id: message.id, result } satisfies LoaderReply),
    (error: unknown) => process.send!({ id: message.id, error: error instanceof Error ? error.message : String(error) } satisfies LoaderReply),
  );
});
process.on('disconnect', () => process.exit(0));
