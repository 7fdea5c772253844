import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

interface Raw { status: number; headers: http.IncomingHttpHeaders; body: string }

/** A request with exactly these headers (fetch will not send a Host of our choosing). */
function raw(
  issuer: string,
  path: string,
  headers: Record<string, string>,
  method = 'GET',
  body?: string,
): Promise<Raw> {
  const { port } = new URL(issuer);
  return new Promise((resolve, reject) => {
    const request = http.request(
      { host: '127.0.0.1', port, path, method, headers: { accept: 'application/json', ...headers }, agent: false },
      (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => { text += chunk; });
      response.on('end', () => resolve({ status: response.statusCode!, headers: response.headers, body: text }));
    },
    );
    request.on('error', reject);
    request.end(body);
  });
}

function endpointsOf(discovery: Record<string, unknown>): string[] {
  return Object.entries(discovery)
    .filter(
      ([key, value]) =>
        typeof value === 'string' && (key.endsWith('_endpoint') || key === 'jwks_uri' || key === 'issuer'),
    )
    .map(([, value]) => value as string);
}

describe('every absolute URL comes from the issuer', () => {
  let t: TestServer;
  let host: string;
  beforeAll(async () => {
    t = await startTestServer({ http: { trustedProxies: ['127.0.0.1'] } });
    host = new URL(t.issuer).host;
  });
  afterAll(() => t?.close());

  it('refuses a foreign Host with 421 on oidc-provider routes and ours', async () => {
    for (const path of [
      '/.well-known/openid-configuration',
      '/jwks',
      '/auth?client_id=x',
      '/interaction/abc',
      '/account',
      '/admin/api/v1/clients',
    ]) {
      const response = await raw(t.issuer, path, { host: 'evil.example' });
      expect(response.status, path).toBe(421);
      expect(JSON.parse(response.body), path).toEqual({
        error: 'misdirected_request',
        error_description: `this server answers only for ${t.issuer}`,
      });
    }
    const post = await raw(
      t.issuer,
      '/token',
      { host: 'evil.example', 'content-type': 'application/x-www-form-urlencoded' },
      'POST',
      'grant_type=client_credentials',
    );
    expect(post.status).toBe(421);
  });

  it('refuses a foreign X-Forwarded-Host from a trusted proxy, and an odd Host spelling', async () => {
    expect(
      (await raw(t.issuer, '/.well-known/openid-configuration', { host, 'x-forwarded-host': 'evil.example' })).status,
    ).toBe(421);
    expect((await raw(t.issuer, '/.well-known/openid-configuration', { host: `${host}@evil.example` })).status).toBe(
      421,
    );
    expect(
      (await raw(t.issuer, '/.well-known/openid-configuration', { host: host.replace('localhost', '127.0.0.1') }))
        .status,
    ).toBe(421);
  });

  it('advertises only issuer URLs, whatever X-Forwarded-Proto a trusted proxy sends', async () => {
    const variants: Array<Record<string, string>> = [
      { host },
      { host: host.toUpperCase() },
      { host, 'x-forwarded-host': host, 'x-forwarded-proto': 'https' },
    ];
    for (const headers of variants) {
      const response = await raw(t.issuer, '/.well-known/openid-configuration', headers);
      expect(response.status).toBe(200);
      const endpoints = endpointsOf(JSON.parse(response.body) as Record<string, unknown>);
      expect(endpoints.length).toBeGreaterThan(6);
      for (const url of endpoints) expect(url === t.issuer || url.startsWith(`${t.issuer}/`), url).toBe(true);
    }
  });

  it('lets load balancers probe the health endpoints by address', async () => {
    expect((await raw(t.issuer, '/healthz', { host: '10.0.0.7:3000' })).status).toBe(200);
    expect((await raw(t.issuer, '/readyz', { host: '10.0.0.7:3000' })).status).toBe(200);
  });

  it('lets caches keep discovery and JWKS for five minutes, and nothing else', async () => {
    for (const path of ['/.well-known/openid-configuration', '/jwks']) {
      const response = await fetch(new URL(path, t.issuer));
      expect(response.status).toBe(200);
      expect(response.headers.get('cache-control'), path).toBe('public, max-age=300');
    }
    const refused = await raw(t.issuer, '/jwks', { host: 'evil.example' });
    expect(refused.headers['cache-control']).toBe('no-store');
    const token = await fetch(new URL('/token', t.issuer), {
      method: 'POST',
      body: new URLSearchParams({ grant_type: 'client_credentials' }),
    });
    expect(token.headers.get('cache-control')).not.toMatch(/public/);
  });
});

describe('an https issuer over plain http', () => {
  let t: TestServer;
  const issuer = 'https://idp.example';
  beforeAll(async () => { t = await startTestServer({ issuer, http: { trustedProxies: ['127.0.0.1'] } }); });
  afterAll(() => t?.close());

  const on = (path: string, headers: Record<string, string> = {}, method = 'GET', body?: string) =>
    raw(t.origin, path, { host: 'idp.example', ...headers }, method, body);

  it('redirects GET and HEAD to the https issuer URL instead of failing on a Secure cookie', async () => {
    for (const method of ['GET', 'HEAD']) {
      const response = await on('/account/password?x=1', {}, method);
      expect(response.status, method).toBe(308);
      expect(response.headers.location).toBe('https://idp.example/account/password?x=1');
    }
  });

  it('answers any other method with 400 https_required', async () => {
    const response = await on(
      '/token',
      { 'content-type': 'application/x-www-form-urlencoded' },
      'POST',
      'grant_type=client_credentials',
    );
    expect(response.status).toBe(400);
    expect(JSON.parse(response.body)).toEqual({
      error: 'https_required',
      error_description: `this server answers only over https: send requests to ${issuer}`,
    });
  });

  it('serves pages that set Secure cookies when a trusted proxy says https', async () => {
    const page = await on('/account', { 'x-forwarded-proto': 'https', accept: 'text/html' });
    expect(page.status).toBeLessThan(500);
    const discovery = await on('/.well-known/openid-configuration', { 'x-forwarded-proto': 'https' });
    expect(discovery.status).toBe(200);
    for (const url of endpointsOf(JSON.parse(discovery.body) as Record<string, unknown>))
      expect(url.startsWith(issuer), url).toBe(true);
  });
});
