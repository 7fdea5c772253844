import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appRoutes, type RouteEntry } from '../../src/http/route-table.js';
import { inputLimits } from '../../src/http/hostile-input.js';
import { BrowserAgent } from '../helpers/browser-agent.js';
import { startAdminApi, type AdminApiFixture } from '../helpers/admin-api-fixtures.js';

/** One hostile request, made of the parts that differ from a plain request to the route. */
interface Probe {
  query?: string;
  body?: string | Buffer;
  type?: string;
  headers?: Record<string, string>;
  /** Put into the route's path parameters instead of a harmless value. */
  pathValue?: string;
}

// Every name a handler of ours or oidc-provider reads, so a value reaches each of them.
const names = [
  'client_id',
  'client_secret',
  'redirect_uri',
  'response_type',
  'scope',
  'state',
  'nonce',
  'code',
  'code_verifier',
  'code_challenge',
  'grant_type',
  'refresh_token',
  'token',
  'token_type_hint',
  'id_token_hint',
  'post_logout_redirect_uri',
  'login_hint',
  'user_code',
  'device_code',
  'request_uri',
  'resource',
  'error',
  'error_description',
  'email',
  'password',
  'current',
  'name',
  'csrf',
  'q',
  'filter',
  'status',
  'role',
  'limit',
  'cursor',
  'before',
  'after',
  'type',
  'xsrf',
  'logout',
  'confirm',
  'otp',
  'totp',
  'recovery_code',
  'api_key',
  'key',
  'redirect_uris',
  'permissions',
  'identifier',
];
const form = (value: string) => names.map((name) => `${name}=${value}`).join('&');
const json = (value: unknown) => JSON.stringify(Object.fromEntries(names.map((name) => [name, value])));
const formType = 'application/x-www-form-urlencoded';
const jsonType = 'application/json';
const deep = (levels: number) => `${'['.repeat(levels)}${']'.repeat(levels)}`;

/** Refused at the edge with 400 invalid_request (413/431 for sizes) before any handler runs. */
const refused: Record<string, Probe> = {
  'NUL in the query': { query: 'email=a%00b' },
  'invalid UTF-8 in the query': { query: 'email=%C3%28' },
  'a broken %-escape in the query': { query: 'state=%E0%A4%A' },
  'an encoded surrogate in the query': { query: 'login_hint=%ED%A0%80' },
  'NUL in a form body': { body: form('a%00b'), type: formType },
  'raw invalid UTF-8 in a form body': {
    body: Buffer.from([0x65, 0x6d, 0x61, 0x69, 0x6c, 0x3d, 0xff, 0xfe]),
    type: formType,
  },
  'NUL in a JSON body': { body: json('a\u0000b'), type: jsonType },
  'a lone surrogate in a JSON body': { body: '{"email":"\\ud800"}', type: jsonType },
  'deeply nested JSON': { body: deep(inputLimits.maxJsonDepth + 5), type: jsonType },
  'NUL in Basic credentials': {
    headers: { authorization: `Basic ${Buffer.from('client%00:secret').toString('base64')}` },
  },
  'invalid UTF-8 in Basic credentials': {
    headers: { authorization: `Basic ${Buffer.from([0x61, 0xff, 0x3a, 0x62]).toString('base64')}` },
  },
  'a non-ASCII session cookie': { headers: { cookie: 'pcl.session=\u00e9t\u00e9; pcl.csrf=x' } },
  'NUL in a path parameter': { pathValue: 'a%00b' },
  'a 1 MB form body': { body: `email=${'a'.repeat(1024 * 1024)}`, type: formType },
  'a 1 MB JSON body': { body: JSON.stringify({ email: 'a'.repeat(1024 * 1024) }), type: jsonType },
  'a value over the length limit': { body: `state=${'a'.repeat(inputLimits.maxValueLength + 1)}`, type: formType },
};

/** Get past the edge: the handlers must answer them with a 4xx (or a 2xx/3xx), never a 5xx. */
const tolerated: Record<string, Probe> = {
  'duplicated query parameters': { query: `${form('a')}&${form('b')}` },
  'duplicated form parameters': { body: `${form('a')}&${form('b')}`, type: formType },
  'numbers where strings go': { body: json(12345), type: jsonType },
  'objects where strings go': { body: json({ $ne: null }), type: jsonType },
  'arrays where strings go': { body: json(['a', 'b']), type: jsonType },
  'a JSON scalar body': { body: '"x"', type: jsonType },
  'a JSON null body': { body: 'null', type: jsonType },
  'malformed JSON': { body: '{"email":', type: jsonType },
  'unicode confusables': {
    query: form(encodeURIComponent('\u0430dmin@ex\u0430mple.com')),
    body: form(encodeURIComponent('ａｄｍｉｎ\u200b\u202e')),
    type: formType,
  },
  'long values within the limit': { body: form('a'.repeat(1000)), type: formType },
  'an odd path parameter': { pathValue: encodeURIComponent('../\u0430dmin\u202e') },
  'a garbage bearer token': { headers: { authorization: 'Bearer \u00e9\u00e9' } },
  'a foreign cookie with non-ASCII text': { headers: { cookie: 'analytics=\u00e9t\u00e9' } },
};

const stackTrace = /\bat (async )?[\w.<>]+ \(|\.[jt]s:\d+:\d+|node_modules/;

interface Target extends RouteEntry { admin: boolean }

function fill(path: string, uid: string, value?: string): string {
  return path.replace(/:(\w+)/g, (_match, name: string) => value ?? (name === 'uid' ? uid : 'x0x0x0'));
}

describe('hostile input never reaches a handler or the database', () => {
  let f: AdminApiFixture;
  let targets: Target[];
  let uid: string;

  beforeAll(async () => {
    f = await startAdminApi({ rateLimits: { adminApiPerIp: { points: 100_000, durationSeconds: 60 } } });
    const { client } = await f.t.container.clients.create(
      { name: 'Probe', type: 'spa', redirectUris: ['http://127.0.0.1:9/cb'] },
      'test',
    );
    const auth = new URL('/auth', f.t.issuer);
    auth.search = new URLSearchParams({
      client_id: client.clientId,
      response_type: 'code',
      scope: 'openid',
      redirect_uri: 'http://127.0.0.1:9/cb',
      code_challenge: 'a'.repeat(43),
      code_challenge_method: 'S256',
    }).toString();
    uid = (await new BrowserAgent().request(auth)).location!.pathname.split('/').pop()!;

    const discovery = (await (await fetch(new URL('/.well-known/openid-configuration', f.t.issuer))).json()) as Record<
      string,
      unknown
    >;
    const endpoints = Object.entries(discovery)
      .filter(([key, value]) => (key.endsWith('_endpoint') || key === 'jwks_uri') && typeof value === 'string')
      .map(([, value]) => new URL(value as string).pathname);
    // oidc-provider's routes that discovery does not name (lib/helpers/initialize_app.js).
    const extra = ['/auth/:uid', '/session/end/confirm', '/session/end/success', '/device', '/device/:uid',
      '/.well-known/openid-configuration', '/.well-known/oauth-authorization-server'];
    const provider = [...new Set([...endpoints, ...extra])].flatMap((path) =>
      ['GET', 'POST'].map((method) => ({ method, path })),
    );
    const ours = appRoutes(f.t.server.app);
    targets = [...ours, ...provider].map((route) => ({ ...route, admin: route.path.startsWith('/admin/api/') }));
    expect(ours.length).toBeGreaterThan(50);
    for (const endpoint of [
      '/token',
      '/token/introspection',
      '/token/revocation',
      '/auth',
      '/session/end',
      '/device/auth',
      '/request',
      '/me',
    ]) {
      expect(endpoints).toContain(endpoint);
    }
  });
  afterAll(() => f?.close());

  async function send(target: Target, probe: Probe, token?: string) {
    const path = fill(target.path, uid, probe.pathValue);
    const url = `${f.t.issuer}${path}${probe.query ? `?${probe.query}` : ''}`;
    const method = probe.body !== undefined && target.method === 'GET' ? 'POST' : target.method;
    const headers: Record<string, string> = { accept: 'application/json', ...probe.headers };
    if (probe.type) headers['content-type'] = probe.type;
    if (token && !headers.authorization) headers.authorization = `Bearer ${token}`;
    const body = method === 'GET' || method === 'HEAD' ? undefined : probe.body;
    try {
      const response = await fetch(url, {
        method,
        headers,
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(5000),
      });
      return { status: response.status, text: await response.text() };
    } catch (error) {
      // The server may close the connection after answering an oversized request early (413/431).
      return { status: 0, text: String((error as Error).cause ?? error) };
    }
  }

  async function counts(): Promise<Record<string, number>> {
    const tables = (await f.t.container.dataSource.query(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`,
    )) as Array<{ table_name: string }>;
    const result: Record<string, number> = {};
    for (const { table_name: table } of tables) {
      const [row] = (await f.t.container.dataSource.query(`SELECT count(*)::int AS n FROM "${table}"`)) as Array<{
        n: number;
      }>;
      result[table] = row!.n;
    }
    return result;
  }

  async function runAll(
    corpus: Record<string, Probe>,
    check: (name: string, target: Target, status: number, text: string) => string | undefined,
  ) {
    const failures: string[] = [];
    const jobs = targets.flatMap((target) => Object.entries(corpus).flatMap(([name, probe]) => {
      if (probe.pathValue && !target.path.includes(':')) return [];
      // Key rotation takes no input: any authorised POST rotates, hostile or not.
      const authorised = target.admin && !target.path.endsWith('/signing-keys/rotate');
      return authorised
        ? [[name, probe, target, f.writeToken] as const, [name, probe, target, undefined] as const]
        : [[name, probe, target, undefined] as const];
    }));
    for (let i = 0; i < jobs.length; i += 8) {
      await Promise.all(jobs.slice(i, i + 8).map(async ([name, probe, target, token]) => {
        const { status, text } = await send(target, probe, token);
        const label =
          `${target.method} ${target.path}${token ? ' (admin)' : ''} with ${name}: ` +
          `${status} ${text.slice(0, 160)}`;
        if (status >= 500) failures.push(label);
        else if (stackTrace.test(text)) failures.push(`stack trace: ${label}`);
        else {
          const problem = check(name, target, status, text);
          if (problem) failures.push(`${problem}: ${label}`);
        }
      }));
    }
    return failures;
  }

  it('refuses NUL, invalid UTF-8, oversized and over-deep input on every route with a 4xx naming the parameter', async () => {
    const before = await counts();
    const failures = await runAll(refused, (name, _target, status, text) => {
      if (/1 MB/.test(name)) return status === 413 || status === 0 ? undefined : 'expected 413';
      // Node refuses a request line past its header limit (16 KiB) before the app sees it.
      if (/length limit/.test(name) && status === 431) return undefined;
      if (status !== 400) return 'expected 400';
      const body = JSON.parse(text) as { error: string; error_description: string };
      if (body.error !== 'invalid_request') return 'expected invalid_request';
      if (/query|form|JSON body/.test(name) && !/parameter|request body|JSON member/.test(body.error_description))
        return 'no parameter named';
      return undefined;
    });
    expect(failures).toEqual([]);
    expect(await counts()).toEqual(before);
  }, 300_000);

  it('names the offending parameter', async () => {
    const response = await fetch(`${f.t.issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': formType, accept: 'application/json' },
      body: 'grant_type=client_credentials&client_id=a%00b',
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({
      error: 'invalid_request',
      error_description: 'parameter "client_id" contains a NUL byte',
    });
    const page = await fetch(`${f.t.issuer}/auth?client_id=%C3%28`, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(400);
    expect(await page.text()).toContain('parameter &#34;client_id&#34; is not valid UTF-8');
  });

  it('answers duplicated, mistyped, confusable and odd input on every route without a 5xx or a stack trace', async () => {
    const before = await counts();
    const failures = await runAll(tolerated, () => undefined);
    expect(failures).toEqual([]);
    const after = await counts();
    // Failed sign-ins may count attempts and write their audit rows; nothing else may change.
    for (const table of ['accounts', 'clients', 'roles', 'signing_keys', 'api_keys', 'apis']) {
      if (table in before) expect(after[table], table).toBe(before[table]);
    }
  }, 300_000);
});
