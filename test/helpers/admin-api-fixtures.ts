import { randomUUID } from 'node:crypto';
import * as oidc from 'openid-client';
import { expect } from 'vitest';
import { openApiClient, type OpenApiClient } from './openapi-validator.js';
import { startTestServer, type TestServer } from './test-server.js';

/** A server, a service client holding the admin role, and its tokens for the admin API. */
export interface AdminApiFixture {
  t: TestServer;
  api: OpenApiClient;
  /** The admin API's resource indicator. */
  adminApi: string;
  botId: string;
  writeToken: string;
  readToken: string;
  /** admin:write without admin:read: a GET answers 403. */
  writeOnlyToken: string;
  close(): Promise<void>;
}

export async function adminToken(t: TestServer, clientId: string, secret: string, scope: string): Promise<string> {
  const config = await oidc.discovery(new URL(t.issuer), clientId, {}, oidc.ClientSecretBasic(secret), { execute: [oidc.allowInsecureRequests] });
  return (await oidc.clientCredentialsGrant(config, { scope, resource: `${t.issuer}/admin/api` })).access_token;
}

export async function startAdminApi(overrides: Record<string, unknown> = {}): Promise<AdminApiFixture> {
  const t = await startTestServer({ clientCacheSeconds: 5, ...overrides });
  const { clients, rbac } = t.container;
  const bot = await clients.create({ name: 'Admin bot', type: 'service', allowAdminApi: true }, 'test');
  await rbac.create('admin', 'administrators', 'test');
  await rbac.assign('admin', { client: bot.client.clientId }, 'test');
  const token = (scope: string) => adminToken(t, bot.client.clientId, bot.secret!, scope);
  return {
    t, api: await openApiClient(t.issuer), adminApi: `${t.issuer}/admin/api`, botId: bot.client.clientId,
    writeToken: await token('admin:read admin:write'), readToken: await token('admin:read'), writeOnlyToken: await token('admin:write'),
    close: () => t.close(),
  };
}

/** Values that satisfy each path parameter's schema without naming anything that exists. */
const placeholders: Record<string, string> = {
  accountId: randomUUID(), clientId: 'no-such-client', name: 'no-such-role', api: 'https://api.example.com', apiKeyId: '0'.repeat(20), identifier: 'https://nothing.example.com',
};

/**
 * For every operation under the prefixes: 401 without a credential, 403 for a token without the
 * scope it needs, and, where a body is taken, 400 for malformed JSON and 415 for something not JSON.
 */
export async function checkGenericErrors(f: AdminApiFixture, prefixes: readonly string[]): Promise<void> {
  for (const { method, path, operation } of f.api.operations(prefixes)) {
    const params = Object.fromEntries((path.match(/\{(\w+)\}/g) ?? []).map((part) => part.slice(1, -1)).map((name) => [name, placeholders[name] ?? 'x']));
    const none = await f.api.call(method.toUpperCase(), path, { params });
    expect(none.status, `${method} ${path} without a token`).toBe(401);
    expect(none.body.error).toBe('unauthorized');
    const scoped = await f.api.call(method.toUpperCase(), path, { params, token: method === 'get' ? f.writeOnlyToken : f.readToken });
    expect(scoped.status, `${method} ${path} without its scope`).toBe(403);
    expect(scoped.body.error).toBe('insufficient_scope');
    if (!operation.requestBody) continue;
    const malformed = await f.api.call(method.toUpperCase(), path, { params, token: f.writeToken, rawBody: { contentType: 'application/json', text: '{' } });
    expect(malformed, `${method} ${path} with malformed JSON`).toMatchObject({ status: 400, body: { error: 'invalid_json' } });
    const notJson = await f.api.call(method.toUpperCase(), path, { params, token: f.writeToken, rawBody: { contentType: 'text/plain', text: 'hello' } });
    expect(notJson, `${method} ${path} with text/plain`).toMatchObject({ status: 415, body: { error: 'unsupported_media_type' } });
  }
}

/** The audit rows of one type, oldest first. */
export async function auditRows(t: TestServer, type: string): Promise<Array<{ actor: string; account_id: string | null; client_id: string | null; ip: string | null; details: Record<string, unknown> }>> {
  return t.container.dataSource.query('select actor, account_id, client_id, ip, details from audit_events where type = $1 order by id', [type]);
}

type ListPage = { items: Array<Record<string, unknown>>; nextCursor: string | null };

/**
 * Every item a list operation answers, following nextCursor page by page until it is null;
 * each page holds at most `limit` items.
 */
export async function allPages(f: AdminApiFixture, path: string, options: { limit?: number; query?: Record<string, string> } = {}): Promise<ListPage['items']> {
  const limit = options.limit ?? 2;
  const items: ListPage['items'] = [];
  let cursor: string | null = null;
  do {
    const page: { body: ListPage } = await f.api.call<ListPage>('GET', path, { token: f.readToken, query: { ...options.query, limit, cursor: cursor ?? undefined } });
    expect(page.body.items.length, `a page of ${path}`).toBeLessThanOrEqual(limit);
    items.push(...page.body.items);
    cursor = page.body.nextCursor;
  } while (cursor);
  return items;
}

/** Two PATCHes sent at once, each with the ETag read just before and one of `bodies`: both answers. */
export async function concurrentPatches(f: AdminApiFixture, path: string, params: Record<string, string>, bodies: Array<Record<string, unknown>>) {
  const etag = (await f.api.call('GET', path, { token: f.readToken, params })).headers.get('etag')!;
  return Promise.all(bodies.map((body) => f.api.call('PATCH', path, { token: f.writeToken, params, body, headers: { 'if-match': etag } })));
}
