import Koa from 'koa';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorHandler } from '../../src/http/error-handler.js';
import { createRenderer } from '../../src/http/render.js';
import { requestContext } from '../../src/http/request-context.js';
import { createLogger } from '../../src/infra/logger.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

describe('operations endpoints and headers', () => {
  let t: TestServer;
  beforeAll(async () => { t = await startTestServer(); });
  afterAll(() => t?.close());

  it('answers /healthz and /readyz with each dependency', async () => {
    expect(await (await fetch(new URL('/healthz', t.issuer))).json()).toEqual({ status: 'ok' });
    const ready = await fetch(new URL('/readyz', t.issuer));
    expect(ready.status).toBe(200);
    const body = await ready.json() as { checks: Record<string, string> };
    expect(body.checks.postgres).toBe('ok');
    if (t.container.redis) expect(body.checks.redis).toBe('ok');
  });

  it('turns /readyz to 503 while draining so load balancers stop sending', async () => {
    t.server.startDraining();
    const ready = await fetch(new URL('/readyz', t.issuer));
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ status: 'draining' });
  });

  it('sets strict security headers and echoes a request id', async () => {
    const response = await fetch(new URL('/healthz', t.issuer), { headers: { 'x-request-id': 'test-request-0001' } });
    expect(response.headers.get('x-request-id')).toBe('test-request-0001');
    expect(response.headers.get('content-security-policy')).toMatch(/default-src 'none'.*frame-ancestors 'none'/);
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('x-frame-options')).toBe('DENY');
  });

  it('gives every response a fresh script nonce', async () => {
    // 300 responses draw from more than one 4 KiB random pool (src/infra/random-pool.ts). That pages'
    // scripts carry their response's nonce is checked in Chromium (test/e2e/accessibility.test.ts).
    const nonces = await Promise.all(Array.from({ length: 300 }, async () => {
      const csp = (await fetch(new URL('/healthz', t.issuer))).headers.get('content-security-policy')!;
      return /'nonce-([A-Za-z0-9+/]{22}==)'/.exec(csp)![1]!;
    }));
    expect(new Set(nonces).size).toBe(nonces.length);
  });

  it('answers an unknown interaction with a 4xx page, not a stack trace', async () => {
    const response = await fetch(new URL('/interaction/does-not-exist', t.issuer), { headers: { accept: 'text/html' } });
    expect(response.status).toBeGreaterThanOrEqual(400);
    expect(response.status).toBeLessThan(500);
    const html = await response.text();
    expect(html).not.toMatch(/\.ts:\d+|at async/);
  });

  it('serves static files without path traversal', async () => {
    expect((await fetch(new URL('/static/portcullis.css', t.issuer))).status).toBe(200);
    expect((await fetch(new URL('/static/..%2Fconfig%2Fdefault.yaml', t.issuer))).status).toBeGreaterThanOrEqual(400);
  });
});

describe('error handler and client IP', () => {
  let server: http.Server;
  let base: string;
  beforeAll(async () => {
    const app = new Koa();
    app.use(requestContext(createLogger('silent'), ['127.0.0.1']));
    app.use(errorHandler(createRenderer({ branding: { productName: 'Test', primaryColor: '#000000', defaultLocale: 'en' }, cache: false })));
    app.use(async (ctx) => {
      if (ctx.path === '/boom') throw new Error('database password is hunter2');
      ctx.body = { ip: ctx.state.clientIp };
    });
    server = http.createServer(app.callback());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  it('turns an unexpected error into a 500 with a request id and no internals', async () => {
    const response = await fetch(`${base}/boom`, { headers: { accept: 'application/json' } });
    expect(response.status).toBe(500);
    const body = await response.json() as Record<string, string>;
    expect(body.error).toBe('server_error');
    expect(body.request_id).toBe(response.headers.get('x-request-id'));
    expect(JSON.stringify(body)).not.toMatch(/hunter2|at .*\.ts/);
  });

  it('believes X-Forwarded-For only from a trusted proxy', async () => {
    const fromProxy = await (await fetch(`${base}/ip`, { headers: { 'x-forwarded-for': '203.0.113.9' } })).json();
    expect(fromProxy).toEqual({ ip: '203.0.113.9' });
  });
});

describe('untrusted peers', () => {
  it('ignore a forged X-Forwarded-For', async () => {
    const app = new Koa();
    app.use(requestContext(createLogger('silent'), []));
    app.use((ctx) => { ctx.body = { ip: ctx.state.clientIp, forwarded: ctx.get('x-forwarded-for') }; });
    const server = http.createServer(app.callback());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const body = await (await fetch(`http://127.0.0.1:${port}/`, { headers: { 'x-forwarded-for': '203.0.113.9' } })).json();
    server.close();
    expect(body).toEqual({ ip: '127.0.0.1', forwarded: '' });
  });
});
