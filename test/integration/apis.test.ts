import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiKeyTokenType } from '../../src/api-keys/api-key-format.js';
import { apiCacheSeconds, createApiRegistry } from '../../src/apis/api-registry.js';
import { cliRunner } from '../helpers/cli-runner.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

const configured = 'https://config.example.test';
const configApis = [{ identifier: configured, scopes: ['read'] }];
const tokenExchange = 'urn:ietf:params:oauth:grant-type:token-exchange';

let t: TestServer;
let env: Record<string, string>;
let adminApi: string;
let worker: oidc.Configuration;
let workerId: string;

const { cli, cliJson } = cliRunner(() => env);

async function discover(clientId: string, secret: string): Promise<oidc.Configuration> {
  return oidc.discovery(new URL(t.issuer), clientId, {}, oidc.ClientSecretBasic(secret), { execute: [oidc.allowInsecureRequests] });
}

const verifyAccessToken = (token: string, audience: string) =>
  jwtVerify(token, createRemoteJWKSet(new URL('/jwks', t.issuer)), { issuer: t.issuer, audience, typ: 'at+jwt' }).then((result) => result.payload);

async function oauthError(promise: Promise<unknown>): Promise<{ error?: string; error_description?: string }> {
  const failure = await promise.then(() => undefined, (e: unknown) => e as { error?: string; error_description?: string });
  expect(failure, 'expected an OAuth error').toBeDefined();
  return failure!;
}

async function events(type: string) {
  return await t.container.dataSource.query(`SELECT actor, details FROM audit_events WHERE type = $1 ORDER BY id`, [type]) as Array<{ actor: string; details: Record<string, unknown> }>;
}

beforeAll(async () => {
  t = await startTestServer({ apis: configApis });
  adminApi = `${t.issuer}/admin/api`;
  // The CLI reads config from files and env; JSON is YAML, so the config API rides in PORTCULLIS_CONFIG.
  const configFile = path.join(tmpdir(), `portcullis-apis-${process.pid}.yaml`);
  writeFileSync(configFile, JSON.stringify({ apis: configApis, issuer: t.issuer }));
  env = { ...t.env, PORTCULLIS_CONFIG: configFile };
  const svc = await t.container.clients.create({ name: 'Worker', type: 'service' }, 'test');
  workerId = svc.client.clientId;
  worker = await discover(workerId, svc.secret!);
});
afterAll(() => t?.close());

describe('a registered API end to end', () => {
  const api = 'https://orders.example.test/v1';

  it('issues JWT access tokens with its scopes and lifetime as soon as it is registered', async () => {
    expect((await oauthError(oidc.clientCredentialsGrant(worker, { resource: api, scope: 'orders:read' }))).error).toBe('invalid_target');
    const created = await t.container.apis.create({ identifier: api, name: 'Orders', scopes: ['orders:read', 'orders:write'], accessTokenTtl: 300 }, 'admin:alice');
    expect(created).toMatchObject({ identifier: api, name: 'Orders', source: 'database', rbac: false });

    const response = await oidc.clientCredentialsGrant(worker, { resource: api, scope: 'orders:read orders:write' });
    expect(response.scope).toBe('orders:read orders:write');
    const payload = await verifyAccessToken(response.access_token, api);
    expect(payload).toMatchObject({ aud: api, client_id: workerId, scope: 'orders:read orders:write' });
    expect(payload.exp! - payload.iat!).toBe(300);
    expect((await oauthError(oidc.clientCredentialsGrant(worker, { resource: api, scope: 'orders:delete' }))).error).toBe('invalid_scope');
  });

  it('limits tokens to what roles allow once rbac is on', async () => {
    await t.container.apis.update(api, { rbac: true }, 'admin:alice');
    const bare = await oidc.clientCredentialsGrant(worker, { resource: api, scope: 'orders:read orders:write' });
    expect(await verifyAccessToken(bare.access_token, api)).not.toHaveProperty('scope');

    await t.container.rbac.create('order-reader', undefined, 'test');
    await t.container.rbac.grant('order-reader', api, 'orders:read', 'test');
    await t.container.rbac.assign('order-reader', { client: workerId }, 'test');
    const response = await oidc.clientCredentialsGrant(worker, { resource: api, scope: 'orders:read orders:write' });
    expect(await verifyAccessToken(response.access_token, api)).toMatchObject({ scope: 'orders:read', roles: ['order-reader'], permissions: ['orders:read'] });
    await expect(t.container.rbac.grant('order-reader', api, 'orders:ship', 'test')).rejects.toMatchObject({ code: 'unknown_permission' });
  });

  it('makes new tokens follow changed scopes and lifetime', async () => {
    await t.container.apis.update(api, { scopes: ['orders:read', 'orders:ship'], accessTokenTtl: 120, rbac: false }, 'admin:alice');
    const response = await oidc.clientCredentialsGrant(worker, { resource: api, scope: 'orders:read orders:ship' });
    const payload = await verifyAccessToken(response.access_token, api);
    expect(payload.scope).toBe('orders:read orders:ship');
    expect(payload.exp! - payload.iat!).toBe(120);
    expect((await oauthError(oidc.clientCredentialsGrant(worker, { resource: api, scope: 'orders:write' }))).error).toBe('invalid_scope');
  });

  it('exchanges an API key bound to it', async () => {
    const { key, token } = await t.container.apiKeys.create({ owner: { type: 'service', clientId: workerId }, name: 'shipper', scopes: ['orders:ship'], api }, 'test');
    const response = await oidc.genericGrantRequest(worker, tokenExchange, { subject_token: token, subject_token_type: apiKeyTokenType });
    expect(await verifyAccessToken(response.access_token, api)).toMatchObject({ sub: workerId, scope: 'orders:ship' });
    await t.container.apiKeys.revoke(key.id, 'test');
  });

  it('refuses to delete it while a role or an API key uses it, naming them', async () => {
    const { key } = await t.container.apiKeys.create({ owner: { type: 'service', clientId: workerId }, name: 'reader key', scopes: ['orders:read'], api }, 'test');
    await expect(t.container.apis.delete(api, 'admin:alice')).rejects.toMatchObject({
      code: 'api_in_use', status: 409, message: expect.stringMatching(new RegExp(`role order-reader and API key ${key.id} \\(reader key\\)`)),
    });
    await t.container.apiKeys.revoke(key.id, 'test');
    await expect(t.container.apis.delete(api, 'admin:alice')).rejects.toMatchObject({ code: 'api_in_use', message: expect.not.stringMatching(/API key/) });
    await t.container.rbac.revoke('order-reader', api, 'orders:read', 'test');
  });

  it('answers invalid_target once deleted', async () => {
    await t.container.apis.delete(api, 'admin:alice');
    const failure = await oauthError(oidc.clientCredentialsGrant(worker, { resource: api, scope: 'orders:read' }));
    expect(failure.error).toBe('invalid_target');
    await expect(t.container.apis.show(api)).rejects.toMatchObject({ code: 'api_not_found', status: 404 });
    await expect(t.container.rbac.grant('order-reader', api, 'orders:read', 'test')).rejects.toMatchObject({ code: 'unknown_api' });
  });

  it('audits every change with the actor and the changed fields before and after', async () => {
    expect((await events('api.created')).filter((e) => e.details.identifier === api)).toEqual([
      {
        actor: 'admin:alice',
        details: {
          identifier: api,
          name: 'Orders',
          scopes: ['orders:read', 'orders:write'],
          accessTokenTtl: 300,
          rbac: false,
          privileged: false,
        },
      },
    ]);
    expect((await events('api.updated')).filter((e) => e.details.identifier === api)).toEqual([
      { actor: 'admin:alice', details: { identifier: api, before: { rbac: false }, after: { rbac: true } } },
      { actor: 'admin:alice', details: { identifier: api, before: { scopes: ['orders:read', 'orders:write'], accessTokenTtl: 300, rbac: true }, after: { scopes: ['orders:read', 'orders:ship'], accessTokenTtl: 120, rbac: false } } },
    ]);
    expect((await events('api.deleted')).filter((e) => e.details.identifier === api)).toEqual([
      {
        actor: 'admin:alice',
        details: {
          identifier: api,
          name: 'Orders',
          scopes: ['orders:read', 'orders:ship'],
          accessTokenTtl: 120,
          rbac: false,
          privileged: false,
        },
      },
    ]);
    expect(await t.container.audit.verify()).toMatchObject({ ok: true });
  });
});

describe('config and built-in APIs', () => {
  it('are listed with their source, beside registered ones', async () => {
    await t.container.apis.create({ identifier: 'https://listed.example.test', name: 'Listed' }, 'test');
    const listed = await t.container.apis.list();
    expect(listed.map((api) => [api.identifier, api.source])).toEqual([
      [adminApi, 'builtin'], [configured, 'config'], ['https://listed.example.test', 'database'],
    ]);
    expect(await t.container.apis.show(configured)).toMatchObject({ scopes: ['read'], accessTokenTtl: 600, rbac: false, source: 'config', createdAt: null });
  });

  it('cannot be changed, deleted or registered again', async () => {
    await expect(t.container.apis.update(configured, { scopes: ['read', 'write'] }, 'test')).rejects.toMatchObject({
      code: 'api_read_only', status: 409, message: `${configured} is defined in config (apis); change it in the configuration file`,
    });
    await expect(t.container.apis.delete(configured, 'test')).rejects.toMatchObject({ code: 'api_read_only', status: 409 });
    await expect(t.container.apis.update(adminApi, { name: 'mine' }, 'test')).rejects.toMatchObject({ code: 'api_read_only', message: expect.stringMatching(/built-in admin API/) });
    await expect(t.container.apis.delete(adminApi, 'test')).rejects.toMatchObject({ code: 'api_read_only' });
    await expect(t.container.apis.create({ identifier: configured, name: 'Shadow' }, 'test')).rejects.toMatchObject({ code: 'api_exists', status: 409 });
    await expect(t.container.apis.create({ identifier: adminApi, name: 'Shadow' }, 'test')).rejects.toMatchObject({ code: 'api_exists', status: 409 });
    // The config API still works as configured.
    const response = await oidc.clientCredentialsGrant(worker, { resource: configured, scope: 'read' });
    expect(await verifyAccessToken(response.access_token, configured)).toMatchObject({ scope: 'read' });
  });

  it('keeps the admin API out of API key exchange', async () => {
    await t.container.rbac.create('admin', undefined, 'test').catch(() => undefined);
    await t.container.rbac.assign('admin', { client: workerId }, 'test');
    const { token } = await t.container.apiKeys.create({ owner: { type: 'service', clientId: workerId }, name: 'admin key', scopes: ['admin:read'], api: adminApi }, 'test');
    const failure = await oauthError(oidc.genericGrantRequest(worker, tokenExchange, { subject_token: token, subject_token_type: apiKeyTokenType }));
    expect(failure.error).toBe('invalid_target');
    await expect(t.container.rbac.grant('admin', adminApi, 'admin:read', 'test')).rejects.toMatchObject({ code: 'unknown_api', message: expect.stringMatching(/admin role/) });
  });
});

describe('validation', () => {
  it('applies the config rules and the lifetime cap, naming the field', async () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ identifier: 'orders', name: 'x' }, /^identifier: /],
      [{ identifier: 'https://x.example.test/#frag', name: 'x' }, /^identifier: a resource indicator has no fragment/],
      [{ identifier: 'https://x.example.test', name: ' ' }, /^name: /],
      [{ identifier: 'https://x.example.test', name: 'x', scopes: ['has space'] }, /^scopes\.0: a scope token has no spaces or quotes/],
      [{ identifier: 'https://x.example.test', name: 'x', scopes: ['a', 'a'] }, /^scopes: scopes must not repeat/],
      [{ identifier: 'https://x.example.test', name: 'x', accessTokenTtl: 0 }, /^accessTokenTtl: /],
      [{ identifier: 'https://x.example.test', name: 'x', accessTokenTtl: 86_401 }, /^accessTokenTtl: at most 86400 seconds/],
      [{ identifier: 'https://x.example.test', name: 'x', extra: true }, /extra/],
    ];
    for (const [input, message] of cases) {
      await expect(t.container.apis.create(input as never, 'test'), JSON.stringify(input)).rejects.toMatchObject({ code: 'invalid_api', status: 400, message: expect.stringMatching(message) });
    }
    await t.container.apis.create({ identifier: 'https://dup.example.test', name: 'Dup' }, 'test');
    await expect(t.container.apis.create({ identifier: 'https://dup.example.test', name: 'Dup' }, 'test')).rejects.toMatchObject({ code: 'api_exists', status: 409 });
    await expect(t.container.apis.update('https://dup.example.test', { accessTokenTtl: 1.5 }, 'test')).rejects.toMatchObject({ code: 'invalid_api' });
    await expect(t.container.apis.update('https://missing.example.test', { name: 'x' }, 'test')).rejects.toMatchObject({ code: 'api_not_found', status: 404 });
  });

  it('records nothing for an update that changes nothing', async () => {
    const before = (await events('api.updated')).length;
    const api = await t.container.apis.update('https://dup.example.test', { name: 'Dup' }, 'test');
    expect(api.name).toBe('Dup');
    expect((await events('api.updated')).length).toBe(before);
  });
});

describe('the lookup cache', () => {
  it('shows another instance\'s writes within cacheSeconds, and its own at once', async () => {
    let now = 1_000_000;
    const other = createApiRegistry({ db: t.container.db, configured: [], builtin: [], clock: () => now });
    const api = 'https://cached.example.test';
    expect(await other.find(api)).toBeUndefined();
    // Written by "this" instance: the other one's copy is stale until it expires.
    await t.container.apis.create({ identifier: api, name: 'Cached', scopes: ['a'] }, 'test');
    expect(await t.container.apis.find(api)).toMatchObject({ scopes: ['a'] });
    expect(await other.find(api)).toBeUndefined();
    expect(await other.find(api, { fresh: true })).toMatchObject({ scopes: ['a'] });
    now += apiCacheSeconds * 1000;
    expect(await other.find(api)).toMatchObject({ scopes: ['a'] });
    // Its own write is seen at once.
    await other.update(api, { scopes: ['b'] }, 'test');
    expect(await other.find(api)).toMatchObject({ scopes: ['b'] });
  });
});

describe('portcullis apis', () => {
  const api = 'https://cli.example.test';

  it('creates, lists, shows, updates and deletes with --json', async () => {
    const created = await cliJson(['apis', 'create', '--identifier', api, '--name', 'CLI API', '--scope', 'a:read', '--scope', 'a:write', '--ttl', '900', '--rbac']);
    expect(created).toMatchObject({ identifier: api, name: 'CLI API', scopes: ['a:read', 'a:write'], access_token_ttl: 900, rbac: true, source: 'database' });
    const listed = await cliJson<Array<{ identifier: string; source: string }>>(['apis', 'list']);
    expect(listed.map((entry) => [entry.identifier, entry.source])).toEqual(expect.arrayContaining([[adminApi, 'builtin'], [configured, 'config'], [api, 'database']]));
    expect(await cliJson(['apis', 'show', configured])).toMatchObject({ identifier: configured, source: 'config', scopes: ['read'] });
    expect(await cliJson(['apis', 'update', api, '--add-scope', 'a:admin', '--remove-scope', 'a:write', '--no-rbac'])).toMatchObject({ scopes: ['a:read', 'a:admin'], rbac: false });
    expect(await cliJson(['apis', 'update', api, '--scope', 'b', '--ttl', '60', '--name', 'Renamed'])).toMatchObject({ name: 'Renamed', scopes: ['b'], access_token_ttl: 60 });
    expect(await t.container.apis.show(api)).toMatchObject({ name: 'Renamed', scopes: ['b'], accessTokenTtl: 60 });
    expect((await events('api.updated')).filter((e) => e.details.identifier === api).map((e) => e.actor)).toEqual(['cli', 'cli']);
    expect(await cliJson(['apis', 'delete', api])).toEqual({ identifier: api, deleted: true });
    await expect(t.container.apis.show(api)).rejects.toMatchObject({ code: 'api_not_found' });
  });

  it('prints for people without --json', async () => {
    await cli(['apis', 'create', '--identifier', 'https://human.example.test', '--name', 'Human', '--scope', 'x']);
    const shown = await cli(['apis', 'show', 'https://human.example.test']);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(
      /^identifier: https:\/\/human\.example\.test\nname: Human\nscopes: x\naccess_token_ttl: 600\nrbac: false\nprivileged: false\nsource: database/,
    );
    expect((await cli(['apis', 'list'])).stdout).toContain(`${configured}  config  read`);
  });

  it('exits 2 on bad usage and 1 on refused input, with one line on stderr', async () => {
    expect(await cli(['apis', 'create', '--name', 'x'])).toMatchObject({ code: 2, stderr: 'portcullis: --identifier is required' });
    expect(await cli(['apis', 'create', '--identifier', 'https://y.example.test', '--name', 'y', '--ttl', 'soon'])).toMatchObject({ code: 2, stderr: 'portcullis: --ttl must be a whole number of seconds' });
    expect(await cli(['apis', 'update', 'https://human.example.test'])).toMatchObject({ code: 2, stderr: expect.stringMatching(/^portcullis: nothing to change/) });
    expect(await cli(['apis', 'show'])).toMatchObject({ code: 2, stderr: 'portcullis: missing <identifier>' });
    expect(await cli(['apis', 'create', '--identifier', 'not a uri', '--name', 'x'])).toMatchObject({ code: 1, stderr: expect.stringMatching(/^portcullis: identifier: /) });
    expect(await cli(['apis', 'update', configured, '--name', 'x'])).toMatchObject({ code: 1, stderr: `portcullis: ${configured} is defined in config (apis); change it in the configuration file` });
    expect(await cli(['apis', 'delete', 'https://nowhere.example.test'])).toMatchObject({ code: 1, stderr: 'portcullis: no API with identifier https://nowhere.example.test' });
  });
});
