import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/schema.js';
import { ServiceUnavailableError, TooManyRequestsError } from '../../src/errors/app-error.js';
import { errorHandler } from '../../src/http/error-handler.js';
import { createRateLimits, type RateLimits } from '../../src/http/rate-limit.js';
import { createRenderer } from '../../src/http/render.js';
import { openDataSource, type DataSource } from '../../src/infra/data-source.js';
import { createLimiterFactory, isRateLimited, type LimiterFactory } from '../../src/infra/rate-limiter-store.js';
import { createRedis, type RedisClient } from '../../src/infra/redis.js';
import { createTestDatabase, testRedis } from '../helpers/test-database.js';

const limits: Config['rateLimits'] = {
  loginPerIp: { points: 3, durationSeconds: 60 },
  loginPerAccount: { points: 2, durationSeconds: 120 },
  registrationPerIp: { points: 10, durationSeconds: 3600 },
  resendPerIp: { points: 10, durationSeconds: 3600 },
  resendPerAccount: { points: 3, durationSeconds: 3600 },
  resetPerIp: { points: 10, durationSeconds: 3600 },
  resetPerAccount: { points: 3, durationSeconds: 3600 },
  mfaPerAccount: { points: 5, durationSeconds: 300 },
  apiKeyIntrospectPerIp: { points: 600, durationSeconds: 60 },
  adminApiPerIp: { points: 600, durationSeconds: 60 },
};

const redisConfig = testRedis();
let databaseUrl: string;
/** Two connections to the same database, as two server processes would have. */
let dataSources: DataSource[] = [];
let redisClients: RedisClient[] = [];

beforeAll(async () => {
  databaseUrl = (await createTestDatabase()).url;
  dataSources = await Promise.all([1, 2].map(() => openDataSource({ url: databaseUrl, poolSize: 4, entities: [], migrations: [] })));
  if (redisConfig) redisClients = [1, 2].map(() => createRedis(redisConfig.url, { keyPrefix: redisConfig.keyPrefix }));
});

afterAll(async () => {
  if (redisConfig && redisClients[0]) {
    const raw = createRedis(redisConfig.url);
    let cursor = '0';
    do {
      const [next, keys] = await raw.scan(cursor, 'MATCH', `${redisConfig.keyPrefix}*`, 'COUNT', 1000);
      if (keys.length) await raw.unlink(...keys);
      cursor = next;
    } while (cursor !== '0');
    await raw.quit();
  }
  await Promise.all(redisClients.map((client) => client.quit()));
  await Promise.all(dataSources.map((dataSource) => dataSource.destroy()));
});

const unique = (what: string) => `${what}-${randomUUID()}`;

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

/** A tiny app: the real error handler in front of a route that consumes `loginPerIp` for the caller. */
async function serve(rateLimits: RateLimits): Promise<{ url: string; close(): Promise<void> }> {
  const app = new Koa();
  app.use(errorHandler(createRenderer({ branding: { productName: 'Test', primaryColor: '#000000', defaultLocale: 'en' }, cache: false })));
  app.use(async (ctx) => {
    await rateLimits.consume('loginPerIp', String(ctx.get('x-test-ip')));
    ctx.body = { ok: true };
  });
  const server = http.createServer(app.callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

function rateLimitContract(factories: () => [LimiterFactory, LimiterFactory]) {
  it('refuses once the points are spent, with retryAfterSeconds within the window', async () => {
    const rateLimits = createRateLimits(factories()[0], limits);
    const email = unique('someone@example.com');
    await rateLimits.consume('loginPerAccount', email);
    await rateLimits.consume('loginPerAccount', email);
    const error = await rejection(rateLimits.consume('loginPerAccount', email));
    expect(error).toBeInstanceOf(TooManyRequestsError);
    const tooMany = error as TooManyRequestsError;
    expect(tooMany).toMatchObject({ status: 429, code: 'too_many_attempts', expose: true });
    expect(Number.isInteger(tooMany.retryAfterSeconds)).toBe(true);
    expect(tooMany.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(tooMany.retryAfterSeconds).toBeLessThanOrEqual(limits.loginPerAccount.durationSeconds);
  });

  it('keeps limits per key, per limit name, and treats emails case-insensitively', async () => {
    const rateLimits = createRateLimits(factories()[0], limits);
    const email = unique('mixed@example.com');
    await rateLimits.consume('loginPerAccount', email.toUpperCase());
    await rateLimits.consume('loginPerAccount', ` ${email} `);
    await expect(rateLimits.consume('loginPerAccount', email)).rejects.toBeInstanceOf(TooManyRequestsError);
    // Another key and another limit over the same key still have their own points.
    await expect(rateLimits.consume('loginPerAccount', unique('other@example.com'))).resolves.toBeUndefined();
    await expect(rateLimits.consume('resendPerAccount', email)).resolves.toBeUndefined();
  });

  it('shares counters between two factories, as two server processes would', async () => {
    const [first, second] = factories();
    const a = createRateLimits(first, limits);
    const b = createRateLimits(second, limits);
    const ip = unique('203.0.113.7');
    await a.consume('loginPerIp', ip);
    await b.consume('loginPerIp', ip);
    await a.consume('loginPerIp', ip);
    await expect(b.consume('loginPerIp', ip)).rejects.toBeInstanceOf(TooManyRequestsError);
  });

  it('counts atomically: 20 parallel requests, exactly `points` get through', async () => {
    const [first, second] = factories();
    const instances = [createRateLimits(first, limits), createRateLimits(second, limits)];
    const ip = unique('198.51.100.1');
    const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => instances[i % 2]!.consume('loginPerIp', ip)));
    expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(limits.loginPerIp.points);
    for (const result of results) if (result.status === 'rejected') expect(result.reason).toBeInstanceOf(TooManyRequestsError);
  });

  it('answers 429 with Retry-After over HTTP, as JSON and as a page', async () => {
    const app = await serve(createRateLimits(factories()[0], limits));
    try {
      const ip = unique('192.0.2.1');
      for (let i = 0; i < limits.loginPerIp.points; i++) {
        expect((await fetch(app.url, { headers: { 'x-test-ip': ip, accept: 'application/json' } })).status).toBe(200);
      }
      const json = await fetch(app.url, { headers: { 'x-test-ip': ip, accept: 'application/json' } });
      expect(json.status).toBe(429);
      const retryAfter = json.headers.get('retry-after');
      expect(retryAfter).toMatch(/^\d+$/);
      expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
      expect(Number(retryAfter)).toBeLessThanOrEqual(limits.loginPerIp.durationSeconds);
      expect(await json.json()).toMatchObject({ error: 'too_many_attempts' });

      const page = await fetch(app.url, { headers: { 'x-test-ip': ip, accept: 'text/html' } });
      expect(page.status).toBe(429);
      expect(page.headers.get('retry-after')).toMatch(/^[1-9]\d*$/);
      expect(page.headers.get('content-type')).toMatch(/text\/html/);
    } finally {
      await app.close();
    }
  });
}

describe('rate limits on PostgreSQL', () => {
  rateLimitContract(() => [createLimiterFactory({ dataSource: dataSources[0]! }), createLimiterFactory({ dataSource: dataSources[1]! })]);

  it('fails closed with a 503 when the store fails, never letting the request through', async () => {
    const broken = await openDataSource({ url: databaseUrl, poolSize: 1, entities: [], migrations: [] });
    await broken.destroy();
    const rateLimits = createRateLimits(createLimiterFactory({ dataSource: broken }), limits);
    const error = await rejection(rateLimits.consume('loginPerIp', '192.0.2.50'));
    expect(error).toBeInstanceOf(ServiceUnavailableError);
    expect(isRateLimited(error)).toBe(false);

    const app = await serve(rateLimits);
    try {
      const response = await fetch(app.url, { headers: { 'x-test-ip': '192.0.2.50', accept: 'application/json' } });
      expect(response.status).toBe(503);
      expect(await response.json()).toMatchObject({ error: 'temporarily_unavailable' });
    } finally {
      await app.close();
    }
  });
});

describe.skipIf(!redisConfig)(redisConfig ? 'rate limits on Redis' : 'rate limits on Redis (skipped: REDIS_URL not set)', () => {
    rateLimitContract(() => [
      createLimiterFactory({ redis: redisClients[0]!, dataSource: dataSources[0]! }),
      createLimiterFactory({ redis: redisClients[1]!, dataSource: dataSources[1]! }),
    ]);

    it('fails closed with a 503 when Redis is unreachable', async () => {
      const unreachable = createRedis('redis://127.0.0.1:1', { enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null, lazyConnect: true });
      unreachable.on('error', () => {});
      try {
        const rateLimits = createRateLimits(createLimiterFactory({ redis: unreachable, dataSource: dataSources[0]! }), limits);
        await expect(rateLimits.consume('loginPerIp', '192.0.2.51')).rejects.toBeInstanceOf(ServiceUnavailableError);
      } finally {
        unreachable.disconnect();
      }
    });
});
