import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { digestSecret, formatApiKey, parseApiKey, secretMatches } from '../../src/api-keys/api-key-format.js';
import { createContainer, type Container } from '../../src/container.js';
import { createLogger } from '../../src/infra/logger.js';
import { testEnvironment } from '../helpers/test-server.js';
import { cliRunner } from '../helpers/cli-runner.js';

const api = 'https://api.example.test';
let env: Record<string, string>;
let sql: pg.Client;
let container: Container;
let clock = new Date('2030-01-01T00:00:00Z');
let serviceClientId: string;
let accountId: string;

beforeAll(async () => {
  const environment = await testEnvironment({ apis: [{ identifier: api, scopes: ['read', 'write'] }] });
  // The CLI reads its config like the server does: the API comes from a config file.
  const file = path.join(os.tmpdir(), `portcullis-api-keys-${process.pid}.yaml`);
  writeFileSync(file, `apis:\n  - identifier: ${api}\n    scopes: [read, write]\n`);
  env = { ...environment.env, PORTCULLIS_CONFIG: file };
  sql = new pg.Client({ connectionString: environment.databaseUrl });
  await sql.connect();
  container = await createContainer(environment.config, createLogger('silent'), { migrate: true, redis: false, now: () => clock });
  serviceClientId = (await container.clients.create({ name: 'Worker', type: 'service' }, 'test')).client.clientId;
  accountId = (await container.accounts.create({ email: 'grace@example.com', password: 'correct horse battery staple', verified: true }, 'test')).id;
});

afterAll(async () => {
  await container?.close();
  await sql?.end();
});

describe('API key format', () => {
  it('formats and parses pcl_<id>_<secret>, refusing anything else', () => {
    const token = formatApiKey('0123456789abcdef0123', 'a'.repeat(40) + '_-b');
    expect(parseApiKey(token)).toEqual({ id: '0123456789abcdef0123', secret: 'a'.repeat(40) + '_-b' });
    for (const bad of ['', 'pcl_', 'pcl_0123456789abcdef0123_short', `pcx_0123456789abcdef0123_${'a'.repeat(43)}`, `pcl_0123456789ABCDEF0123_${'a'.repeat(43)}`]) {
      expect(parseApiKey(bad)).toBeUndefined();
    }
  });

  it('compares digests in constant time', () => {
    expect(secretMatches('s3cret', digestSecret('s3cret'))).toBe(true);
    expect(secretMatches('s3cret', digestSecret('other'))).toBe(false);
    expect(secretMatches('s3cret', 'abc')).toBe(false);
  });
});

describe('API key service', () => {
  it('stores the SHA-256 digest of the secret, never the secret', async () => {
    const { key, token } = await container.apiKeys.create({ owner: { type: 'service', clientId: serviceClientId }, name: 'ci', scopes: ['read'], api }, 'test');
    const parts = parseApiKey(token)!;
    expect(parts.id).toBe(key.id);
    const { rows } = await sql.query('SELECT * FROM api_keys WHERE id = $1', [key.id]);
    expect(rows[0].secret_digest).toBe(digestSecret(parts.secret));
    expect(JSON.stringify(rows[0])).not.toContain(parts.secret);
    expect(key).not.toHaveProperty('secretDigest');
    const audit = await sql.query(`SELECT type, client_id, details FROM audit_events WHERE type = 'api_key.created' AND details->>'apiKeyId' = $1`, [key.id]);
    expect(audit.rows).toHaveLength(1);
    expect(JSON.stringify(audit.rows[0])).not.toContain(parts.secret);
  });

  it('verifies a key, and refuses a wrong secret, an unknown id and a malformed value alike', async () => {
    const { key, token } = await container.apiKeys.create({ owner: { type: 'account', accountId: 'grace@example.com' }, name: 'laptop' }, 'test');
    expect(key.accountId).toBe(accountId);
    expect((await container.apiKeys.verify(token))?.id).toBe(key.id);
    const parts = parseApiKey(token)!;
    expect(await container.apiKeys.verify(formatApiKey(parts.id, 'x'.repeat(43)))).toBeUndefined();
    expect(await container.apiKeys.verify(formatApiKey('f'.repeat(20), parts.secret))).toBeUndefined();
    expect(await container.apiKeys.verify('not a key')).toBeUndefined();
  });

  it('refuses owners that cannot hold keys, unknown APIs and scopes the API does not declare', async () => {
    const web = await container.clients.create({ name: 'Web', type: 'web', redirectUris: ['https://app.example.test/cb'] }, 'test');
    await expect(container.apiKeys.create({ owner: { type: 'service', clientId: web.client.clientId }, name: 'x' }, 'test')).rejects.toMatchObject({ code: 'invalid_owner' });
    await expect(container.apiKeys.create({ owner: { type: 'account', accountId: 'nobody@example.com' }, name: 'x' }, 'test')).rejects.toMatchObject({ code: 'account_not_found' });
    await expect(container.apiKeys.create({ owner: { type: 'service', clientId: serviceClientId }, name: 'x', api: 'https://other.example.test' }, 'test')).rejects.toMatchObject({ code: 'invalid_api' });
    await expect(container.apiKeys.create({ owner: { type: 'service', clientId: serviceClientId }, name: 'x', api, scopes: ['admin'] }, 'test')).rejects.toMatchObject({ code: 'invalid_scope' });
  });

  it('stops accepting a key once it expires', async () => {
    const { token } = await container.apiKeys.create({ owner: { type: 'service', clientId: serviceClientId }, name: 'short', expiresAt: new Date(clock.getTime() + 60_000) }, 'test');
    expect(await container.apiKeys.verify(token)).toBeDefined();
    clock = new Date(clock.getTime() + 60_000);
    expect(await container.apiKeys.verify(token)).toBeUndefined();
  });

  it('refuses a personal key while its owner is disabled, and accepts it again once enabled', async () => {
    const owner = await container.accounts.create({ email: 'disabled-owner@example.com', password: 'correct horse battery staple', verified: true }, 'test');
    const { token } = await container.apiKeys.create({ owner: { type: 'account', accountId: owner.id }, name: 'mine' }, 'test');
    expect(await container.apiKeys.verify(token)).toBeDefined();
    await container.accounts.setDisabled(owner.id, true, 'test');
    expect(await container.apiKeys.verify(token)).toBeUndefined();
    await container.accounts.setDisabled(owner.id, false, 'test');
    expect(await container.apiKeys.verify(token)).toBeDefined();
  });

  it('revokes for good, and audits the revocation once', async () => {
    const { key, token } = await container.apiKeys.create({ owner: { type: 'service', clientId: serviceClientId }, name: 'gone' }, 'test');
    await container.apiKeys.revoke(key.id, 'test');
    await container.apiKeys.revoke(key.id, 'test');
    expect(await container.apiKeys.verify(token)).toBeUndefined();
    expect((await container.apiKeys.show(key.id)).revokedAt).toEqual(clock);
    const audit = await sql.query(`SELECT 1 FROM audit_events WHERE type = 'api_key.revoked' AND details->>'apiKeyId' = $1`, [key.id]);
    expect(audit.rows).toHaveLength(1);
    await expect(container.apiKeys.rotate(key.id, 'test')).rejects.toMatchObject({ code: 'api_key_revoked' });
  });

  it('rotates: same id, new secret, the old value refused', async () => {
    const { key, token } = await container.apiKeys.create({ owner: { type: 'service', clientId: serviceClientId }, name: 'rot' }, 'test');
    const rotated = await container.apiKeys.rotate(key.id, 'test');
    expect(parseApiKey(rotated.token)!.id).toBe(key.id);
    expect(rotated.token).not.toBe(token);
    expect(await container.apiKeys.verify(token)).toBeUndefined();
    expect((await container.apiKeys.verify(rotated.token))?.id).toBe(key.id);
  });

  it('records the last use, at most once a minute', async () => {
    const { key, token } = await container.apiKeys.create({ owner: { type: 'service', clientId: serviceClientId }, name: 'used' }, 'test');
    expect((await container.apiKeys.show(key.id)).lastUsedAt).toBeNull();
    const first = clock;
    await container.apiKeys.verify(token, '203.0.113.7');
    clock = new Date(first.getTime() + 30_000);
    await container.apiKeys.verify(token, '203.0.113.8');
    expect(await container.apiKeys.show(key.id)).toMatchObject({ lastUsedAt: first, lastUsedIp: '203.0.113.7' });
    clock = new Date(first.getTime() + 61_000);
    await container.apiKeys.verify(token, '203.0.113.9');
    expect(await container.apiKeys.show(key.id)).toMatchObject({ lastUsedAt: clock, lastUsedIp: '203.0.113.9' });
  });
});

describe('api-keys CLI', () => {
  const { cli, cliJson } = cliRunner(() => env);

  it('creates (printing the key once), lists, shows, rotates and revokes', async () => {
    clock = new Date(); // the CLI stamps expiry with the real clock
    const created = await cliJson<{ id: string; api_key: string; scopes: string[]; api: string; expires_at: string }>(
      ['api-keys', 'create', '--client', serviceClientId, '--name', 'deploy', '--scope', 'read', '--scope', 'write', '--api', api, '--expires-in', '30']);
    expect(created.api_key).toMatch(new RegExp(`^pcl_${created.id}_`));
    expect(created).toMatchObject({ scopes: ['read', 'write'], api });
    expect(new Date(created.expires_at).getTime()).toBeGreaterThan(Date.now() + 29 * 86_400_000);
    expect((await container.apiKeys.verify(created.api_key))?.id).toBe(created.id);

    const shown = await cliJson(['api-keys', 'show', created.id]);
    expect(shown).not.toHaveProperty('api_key');
    expect(JSON.stringify(shown)).not.toContain(created.api_key.slice(-43));
    const listed = await cliJson<Array<{ id: string }>>(['api-keys', 'list', '--client', serviceClientId]);
    expect(listed.map((k) => k.id)).toContain(created.id);
    expect(listed.every((k) => !('api_key' in k))).toBe(true);

    const rotated = await cliJson<{ id: string; api_key: string }>(['api-keys', 'rotate', created.id]);
    expect(rotated.id).toBe(created.id);
    expect(await container.apiKeys.verify(created.api_key)).toBeUndefined();

    const revoked = await cliJson<{ revoked_at: string | null }>(['api-keys', 'revoke', created.id]);
    expect(revoked.revoked_at).not.toBeNull();
    expect(await container.apiKeys.verify(rotated.api_key)).toBeUndefined();
  });

  it('creates a personal key by email', async () => {
    const created = await cliJson<{ owner_type: string; account_id: string }>(['api-keys', 'create', '--account', 'grace@example.com', '--name', 'mine']);
    expect(created).toMatchObject({ owner_type: 'account', account_id: accountId });
  });

  it('refuses bad input with one line', async () => {
    const both = await cli(['api-keys', 'create', '--client', serviceClientId, '--account', accountId, '--name', 'x']);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/^portcullis: give exactly one of/);
    const unknown = await cli(['api-keys', 'show', 'nope']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^portcullis: no API key with id nope$/);
  });
});
