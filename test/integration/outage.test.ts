/**
 * Fault tests: PostgreSQL and Redis of this file's own (private ports and data), stopped and
 * killed under the running server. Every endpoint answers either its usual answer (where it needs
 * nothing that is down) or 503 + Retry-After + temporarily_unavailable, never a 500, and
 * recovers without a restart.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import * as oidc from 'openid-client';
import pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import { resolveSecrets } from '../../src/config/resolve-secrets.js';
import { createContainer, type Container } from '../../src/container.js';
import { createServer, type Server } from '../../src/server.js';
import {
  authorizationRequest,
  createAccount,
  createRelyingParty,
  signInForTokens,
  signInToAccount,
} from '../helpers/accounts-fixtures.js';
import { createConsoleAdmin, signInConsoleAdmin } from '../helpers/admin-console-session.js';
import { adminToken } from '../helpers/admin-api-fixtures.js';
import { BrowserAgent } from '../helpers/browser-agent.js';
import { startPrivatePostgres, type PrivatePostgres } from '../helpers/private-postgres.js';
import { startOutageRedis, type PrivateRedis } from '../helpers/outage-redis.js';
import { freePort, killServer, spawnServer } from '../helpers/server-process.js';
import type { TestServer } from '../helpers/test-server.js';

const retryAfterSeconds = 7;

interface OutageServer extends TestServer { lines: Array<Record<string, unknown>> }

/** The whole app in-process on the private stores, its JSON log lines kept for assertions. */
async function startOutageServer(
  databaseUrl: string,
  redisUrl: string,
  overrides: Record<string, unknown> = {},
  shareWith?: TestServer,
): Promise<OutageServer> {
  const httpServer = http.createServer();
  await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  const { port } = httpServer.address() as AddressInfo;
  const issuer = `http://localhost:${port}`;
  // shareWith: a second instance of the same deployment (same database, so the same secrets).
  const env: Record<string, string> = shareWith?.env ?? {
    NODE_ENV: 'test',
    DATABASE_URL: databaseUrl,
    REDIS_URL: redisUrl,
    REDIS_KEY_PREFIX: 'outage:',
    DATA_DIR: `/tmp/portcullis-test-data-${process.pid}`,
    PORTCULLIS_COOKIE_KEYS: randomBytes(32).toString('base64url'),
    PORTCULLIS_ENCRYPTION_KEY: randomBytes(32).toString('base64url'),
  };
  const config = resolveSecrets(
    loadConfig({
      env,
      overrides: {
        issuer,
        port,
        clientCacheSeconds: 300,
        captcha: { provider: 'none' },
        http: { retryAfterSeconds },
        ...overrides,
      },
    }),
    () => {},
  );
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean))
        lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const logger = pino({ level: 'info', base: { service: 'portcullis' } }, sink);
  const container: Container = await createContainer(config, logger, { migrate: true });
  const server: Server = await createServer(container);
  httpServer.on('request', server.app.callback());
  return {
    issuer, origin: issuer, container, server, databaseUrl, env, lines,
    async close() {
      httpServer.closeAllConnections();
      await new Promise((resolve) => httpServer.close(resolve));
      server.stop();
      await container.close();
    },
  };
}

interface Answer {
  status: number;
  retryAfter: string | null;
  type: string;
  json?: Record<string, unknown>;
  html?: string;
}

async function answer(response: Response): Promise<Answer> {
  const type = response.headers.get('content-type') ?? '';
  const text = await response.text();
  return {
    status: response.status, retryAfter: response.headers.get('retry-after'), type,
    ...(type.includes('json') ? { json: JSON.parse(text) as Record<string, unknown> } : { html: text }),
  };
}

let pgServer: PrivatePostgres;
let redisServer: PrivateRedis;
let t: OutageServer;
let bot: { id: string; secret: string };
let webClientId: string;
let userAgent: BrowserAgent;
let consoleAgent: BrowserAgent;
let accessToken: string;
let adminApiToken: string;
let user: { email: string; password: string };

const basic = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

/** A client-credentials token request: the file's bot at the shared server unless told otherwise. */
function clientCredentials(issuer = t.issuer, clientId = bot.id, secret = bot.secret): Promise<Response> {
  return fetch(`${issuer}/token`, {
    method: 'POST',
    headers: {
      authorization: basic(clientId, secret),
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
    },
    body: 'grant_type=client_credentials',
  });
}

function introspect(token: string): Promise<Response> {
  return fetch(`${t.issuer}/token/introspection`, {
    method: 'POST',
    headers: {
      authorization: basic(bot.id, bot.secret),
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
    },
    body: new URLSearchParams({ token }).toString(),
  });
}

/** A fresh interaction (login page URL) started while everything is up. */
async function startInteraction(): Promise<{ agent: BrowserAgent; loginUrl: URL; csrf: string }> {
  const agent = new BrowserAgent();
  const client = await oidc.discovery(new URL(t.issuer), webClientId, {}, oidc.None(), {
    execute: [oidc.allowInsecureRequests],
  });
  const page = await agent.follow((await authorizationRequest(client)).url);
  expect(page.url.pathname).toMatch(/^\/interaction\//);
  return { agent, loginUrl: page.url, csrf: /name="csrf" value="([^"]*)"/.exec(page.html)?.[1] ?? '' };
}

/** One request of every kind, as its real caller makes it. */
async function sampleEndpoints(
  interaction: { agent: BrowserAgent; loginUrl: URL; csrf: string },
  ccToken: string,
): Promise<Record<string, Answer>> {
  const html = { accept: 'text/html', 'accept-language': 'fr' };
  const authorize = new URL(`${t.issuer}/auth`);
  authorize.search = new URLSearchParams({
    client_id: webClientId, response_type: 'code', scope: 'openid', redirect_uri: 'http://127.0.0.1:8765/callback',
    code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256', state: 's',
  }).toString();
  const entries: Array<[string, Promise<Response>]> = [
    ['discovery', fetch(`${t.issuer}/.well-known/openid-configuration`)],
    ['token', clientCredentials()],
    ['authorization', fetch(authorize, { headers: html, redirect: 'manual' })],
    ['introspection', introspect(ccToken)],
    [
      'userinfo',
      fetch(`${t.issuer}/me`, { headers: { authorization: `Bearer ${accessToken}`, accept: 'application/json' } }),
    ],
    [
      'loginPage',
      fetch(interaction.loginUrl, {
        headers: { ...html, cookie: interaction.agent.cookieHeader(interaction.loginUrl) },
        redirect: 'manual',
      }),
    ],
    [
      'loginPost',
      fetch(new URL(`${interaction.loginUrl.pathname}/login`, t.issuer), {
        method: 'POST',
        redirect: 'manual',
        headers: {
          ...html,
          'content-type': 'application/x-www-form-urlencoded',
          cookie: interaction.agent.cookieHeader(interaction.loginUrl),
        },
        body: new URLSearchParams({ csrf: interaction.csrf, email: user.email, password: user.password }).toString(),
      }),
    ],
    [
      'accountPage',
      fetch(`${t.issuer}/account`, {
        headers: { ...html, cookie: userAgent.cookieHeader(new URL(`${t.issuer}/account`)) },
        redirect: 'manual',
      }),
    ],
    [
      'consolePage',
      fetch(`${t.issuer}/admin`, {
        headers: { ...html, cookie: consoleAgent.cookieHeader(new URL(`${t.issuer}/admin`)) },
        redirect: 'manual',
      }),
    ],
    [
      'adminApi',
      fetch(`${t.issuer}/admin/api/v1/clients`, {
        headers: { authorization: `Bearer ${adminApiToken}`, accept: 'application/json' },
      }),
    ],
  ];
  const answers = await Promise.all(
    entries.map(async ([name, pending]) => [name, await answer(await pending)] as const),
  );
  return Object.fromEntries(answers);
}

/** A 503 as the brief says: Retry-After from config, temporarily_unavailable JSON or the translated page. */
function expectUnavailable(name: string, got: Answer | undefined, retryAfter = retryAfterSeconds): void {
  expect(got, name).toBeDefined();
  expect({ name, status: got!.status }).toEqual({ name, status: 503 });
  expect(got!.retryAfter, name).toBe(String(retryAfter));
  if (got!.json)
    expect(got!.json, name).toMatchObject({ error: 'temporarily_unavailable', error_description: expect.any(String) });
  else {
    expect(got!.html, name).toContain('Service momentanément indisponible');
    expect(got!.html, name).toContain('Réessayez dans un instant');
  }
}

/** Polls `condition` (no fixed sleeps) until it holds or `boundMs` passes. */
async function eventually(condition: () => Promise<boolean> | boolean, boundMs = 15_000): Promise<void> {
  const deadline = Date.now() + boundMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function ccTokenNow(): Promise<string> {
  const response = await clientCredentials();
  expect(response.status).toBe(200);
  return ((await response.json()) as { access_token: string }).access_token;
}

beforeAll(async () => {
  [pgServer, redisServer] = await Promise.all([startPrivatePostgres(), startOutageRedis()]);
  t = await startOutageServer(pgServer.url, redisServer.url);
  const { clients, rbac } = t.container;
  const created = await clients.create({ name: 'Outage bot', type: 'service', allowAdminApi: true }, 'test');
  bot = { id: created.client.clientId, secret: created.secret! };
  await rbac.create('admin', 'administrators', 'test');
  await rbac.assign('admin', { client: bot.id }, 'test');
  adminApiToken = await adminToken(t, bot.id, bot.secret, 'admin:read');
  const rp = await createRelyingParty(t);
  webClientId = rp.clientId;
  user = await createAccount(t);
  const tokens = await signInForTokens(new BrowserAgent(), rp.config, user);
  accessToken = tokens.access_token;
  userAgent = new BrowserAgent();
  expect((await signInToAccount(userAgent, t.issuer, user)).status).toBe(200);
  consoleAgent = (await signInConsoleAdmin(t, await createConsoleAdmin(t))).agent;
}, 120_000);

afterAll(async () => {
  await t?.close();
  await Promise.all([pgServer?.destroy(), redisServer?.destroy()]);
});

/** What every sampled endpoint answers in a failure mode: its usual status where it needs nothing that is down. */
type Expected = Record<string, number>;
const unavailable = 503;
const withRedisDown: Expected = {
  discovery: 200, token: unavailable, authorization: unavailable, introspection: unavailable, userinfo: unavailable,
  loginPage: unavailable, loginPost: unavailable,
  // Sessions live in PostgreSQL: the account pages and the console need nothing from Redis.
  accountPage: 200, consolePage: 200, adminApi: unavailable,
};
const withPostgresDown: Expected = {
  // Degraded but working: cached client, Redis-held tokens and interactions, in-memory signing keys.
  discovery: 200,
  token: 200,
  authorization: 303,
  introspection: 200,
  loginPage: 200,
  userinfo: unavailable,
  loginPost: unavailable,
  accountPage: unavailable,
  consolePage: unavailable,
  adminApi: unavailable,
};

function expectAnswers(got: Record<string, Answer>, expected: Expected): void {
  expect(Object.keys(got).sort()).toEqual(Object.keys(expected).sort());
  for (const [name, status] of Object.entries(expected)) {
    if (status === unavailable) expectUnavailable(name, got[name]);
    else expect({ name, status: got[name]!.status }).toEqual({ name, status });
  }
  expect(Object.values(got).map((answer) => answer.status)).not.toContain(500);
}

/** Readiness names the dependency that is down. */
async function expectReadiness(down: 'postgres' | 'redis' | undefined): Promise<void> {
  const ready = await answer(await fetch(`${t.issuer}/readyz`));
  expect(ready.status).toBe(down ? 503 : 200);
  expect(ready.json).toEqual({
    status: down ? 'unavailable' : 'ok',
    checks: { postgres: down === 'postgres' ? 'unavailable' : 'ok', redis: down === 'redis' ? 'unavailable' : 'ok' },
  });
}

/** Everything a sample needs, made while both stores are up (Redis is empty after a restart). */
async function prepare() {
  const rp = await createRelyingParty(t);
  webClientId = rp.clientId;
  accessToken = (await signInForTokens(new BrowserAgent(), rp.config, user)).access_token;
  return { interaction: await startInteraction(), ccToken: await ccTokenNow() };
}

/** Lines logged since `from` that are not request summaries. */
const eventsSince = (from: number) => t.lines.slice(from).filter((line) => line.msg !== 'request');

async function recovers(down: 'postgres' | 'redis', from: number): Promise<void> {
  await eventually(async () => (await fetch(`${t.issuer}/readyz`)).status === 200);
  await expectReadiness(undefined);
  expect((await clientCredentials()).status).toBe(200);
  const { interaction } = await prepare();
  expect(interaction.loginUrl.pathname).toMatch(/^\/interaction\//);
  expect(
    (
      await fetch(`${t.issuer}/account`, {
        headers: { accept: 'text/html', cookie: userAgent.cookieHeader(new URL(`${t.issuer}/account`)) },
        redirect: 'manual',
      })
    ).status,
  ).toBe(200);
  await eventually(() =>
    eventsSince(from).some((line) => new RegExp(`^${down} back after \\d+ s$`).test(String(line.msg))),
  );
  const events = eventsSince(from);
  // One line per state change, a count instead of a line per failed request, and no stacks.
  expect(events.filter((line) => line.msg === `${down} unavailable`)).toHaveLength(1);
  expect(events.filter((line) => /back after/.test(String(line.msg)))).toHaveLength(1);
  expect(events.filter((line) => line.err !== undefined)).toEqual([]);
}


describe('with Redis stopped', () => {
  it('answers 503 + Retry-After (JSON temporarily_unavailable or the translated page) where Redis is needed, and recovers without a restart', async () => {
    const { interaction, ccToken } = await prepare();
    const from = t.lines.length;
    await redisServer.stop();
    // Under load: many requests at once, all answered within the bounds, none a 500.
    const burst = await Promise.all(Array.from({ length: 30 }, () => clientCredentials().then(answer)));
    for (const got of burst) expectUnavailable('token (burst)', got);
    expectAnswers(await sampleEndpoints(interaction, ccToken), withRedisDown);
    await expectReadiness('redis');
    await redisServer.start();
    await recovers('redis', from);
  }, 60_000);

  it('says the same when Redis is killed -9', async () => {
    const { interaction, ccToken } = await prepare();
    const from = t.lines.length;
    await redisServer.kill();
    expectAnswers(await sampleEndpoints(interaction, ccToken), withRedisDown);
    await expectReadiness('redis');
    await redisServer.start();
    await recovers('redis', from);
  }, 60_000);
});

describe('with PostgreSQL down', () => {
  for (const how of ['stopped', 'killed -9'] as const) {
    it(`(${how}) keeps client credentials and introspection of Redis-held tokens working and answers 503 elsewhere`, async () => {
      const { interaction, ccToken } = await prepare();
      const from = t.lines.length;
      if (how === 'stopped') await pgServer.stop();
      else await pgServer.kill();
      const got = await sampleEndpoints(interaction, ccToken);
      expectAnswers(got, withPostgresDown);
      expect(got.introspection!.json).toMatchObject({ active: true, client_id: bot.id });
      expect(got.token!.json).toMatchObject({ token_type: 'Bearer', access_token: expect.any(String) });
      const burst = await Promise.all(
        Array.from({ length: 20 }, () =>
          fetch(`${t.issuer}/admin/api/v1/clients`, { headers: { authorization: `Bearer ${adminApiToken}` } }).then(
            answer,
          ),
        ),
      );
      for (const one of burst) expectUnavailable('adminApi (burst)', one);
      await expectReadiness('postgres');
      await pgServer.start();
      await recovers('postgres', from);
    }, 60_000);
  }
});

describe('with PostgreSQL hung (SIGSTOP: connections open, no answers)', () => {
  it('answers /readyz within its bound naming postgres, and requests with 503 once the statement bound passes', async () => {
    const { interaction, ccToken } = await prepare();
    pgServer.pause();
    try {
      const started = Date.now();
      await expectReadiness('postgres');
      // readiness checks give up after http.readinessTimeoutMs (800 ms): /readyz answers within a second.
      expect(Date.now() - started).toBeLessThan(1500);
      const got = await sampleEndpoints(interaction, ccToken);
      expectUnavailable('accountPage', got.accountPage);
      expectUnavailable('userinfo', got.userinfo);
      expect(got.introspection!.status).toBe(200);
      // What some in-process cache can still answer may answer; the rest is a proper 503, never a 500.
      for (const [name, one] of Object.entries(got)) if (one.status >= 500) expectUnavailable(name, one);
    } finally {
      pgServer.resume();
    }
    await eventually(async () => (await fetch(`${t.issuer}/readyz`)).status === 200);
  }, 60_000);
});

describe('with the pool exhausted', () => {
  it('answers 503 within about the acquire timeout while readiness, on its own connection, stays green', async () => {
    const acquireTimeoutMs = 300;
    const small = await startOutageServer(
      pgServer.url,
      redisServer.url,
      { clientCacheSeconds: 0, database: { poolSize: 1, acquireTimeoutMs } },
      t,
    );
    try {
      const created = await small.container.clients.create({ name: 'Pool bot', type: 'service' }, 'test');
      const token = () => clientCredentials(small.issuer, created.client.clientId, created.secret!);
      expect((await token()).status).toBe(200);
      // The test holds the pool's only connection in an open transaction.
      const holder = small.container.dataSource.createQueryRunner();
      await holder.connect();
      await holder.startTransaction();
      try {
        const started = Date.now();
        const answers = await Promise.all(Array.from({ length: 5 }, () => token().then(answer)));
        for (const got of answers) expectUnavailable('token (pool exhausted)', got);
        // Bounded wait: the order of magnitude of the acquire timeout, not a hang.
        expect(Date.now() - started).toBeLessThan(acquireTimeoutMs * 10);
        const ready = await answer(await fetch(`${small.issuer}/readyz`));
        expect(ready.json).toMatchObject({ checks: { postgres: 'ok' } });
      } finally {
        await holder.rollbackTransaction();
        await holder.release();
      }
      expect((await token()).status).toBe(200);
    } finally {
      await small.close();
    }
  }, 60_000);
});

describe('with a statement blocked by a lock', () => {
  it('ends it at database.statementTimeoutMs and answers 503, not a hang', async () => {
    const small = await startOutageServer(
      pgServer.url,
      redisServer.url,
      { clientCacheSeconds: 0, database: { statementTimeoutMs: 500 } },
      t,
    );
    const locker = new pg.Client({ connectionString: pgServer.url });
    await locker.connect();
    try {
      const created = await small.container.clients.create({ name: 'Lock bot', type: 'service' }, 'test');
      const token = () => clientCredentials(small.issuer, created.client.clientId, created.secret!).then(answer);
      // Every read of the clients table now waits for the test's transaction.
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE clients IN ACCESS EXCLUSIVE MODE');
      expectUnavailable('token (statement timeout)', await token());
      await locker.query('ROLLBACK');
      expect((await token()).status).toBe(200);
    } finally {
      await locker.end();
      await small.close();
    }
  }, 60_000);
});

describe('the log of a real server process during an outage', () => {
  it('stays JSON on stdout with one line per state change, and stderr carries no stack traces', async () => {
    const port = await freePort();
    const issuer = `http://localhost:${port}`;
    const child = spawnServer({
      ...t.env,
      PATH: process.env.PATH ?? '',
      PORT: String(port),
      ISSUER: issuer,
      LOG_LEVEL: 'info',
      DATA_DIR: `/tmp/portcullis-test-data-${process.pid}`,
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
    child.stderr!.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    try {
      await eventually(() => stdout.includes('Portcullis is listening'), 30_000);
      const call = () =>
        fetch(`${issuer}/token`, {
          method: 'POST',
          body: 'grant_type=client_credentials',
          headers: {
            authorization: basic(bot.id, bot.secret),
            'content-type': 'application/x-www-form-urlencoded',
            accept: 'application/json',
          },
        });
      expect((await call()).status).toBe(200);
      await redisServer.kill();
      const answers = await Promise.all(Array.from({ length: 25 }, () => call().then(answer)));
      // This process runs on config/default.yaml's http.retryAfterSeconds.
      for (const got of answers) expectUnavailable('token (spawned)', got, 5);
      await redisServer.start();
      await eventually(async () => (await fetch(`${issuer}/readyz`)).status === 200);
      await eventually(() => /redis back after \d+ s/.test(stdout));
      const lines = stdout.split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);
      const events = lines.filter((line) => line.msg !== 'request');
      expect(events.filter((line) => line.msg === 'redis unavailable')).toHaveLength(1);
      expect(events.filter((line) => /^redis back after \d+ s$/.test(String(line.msg)))).toHaveLength(1);
      expect(events.filter((line) => line.err !== undefined)).toEqual([]);
      // Node's own runtime warnings may appear; no stack trace and no "[ioredis] Unhandled error event".
      expect(stderr).not.toMatch(/^\s+at /m);
      expect(stderr).not.toMatch(/ioredis|ECONNREFUSED|Error:/);
    } finally {
      await killServer(child);
    }
  }, 90_000);
});
