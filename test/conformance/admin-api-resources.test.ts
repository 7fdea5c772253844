import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount } from '../helpers/accounts-fixtures.js';
import { allPages, auditRows, checkGenericErrors, concurrentPatches, startAdminApi, type AdminApiFixture } from '../helpers/admin-api-fixtures.js';

let f: AdminApiFixture;
type Json = Record<string, unknown>;
type Page = { items: Json[]; nextCursor: string | null };

const ordersApi = 'https://orders.example.com';

beforeAll(async () => {
  f = await startAdminApi({ apis: [{ identifier: ordersApi, name: 'Orders', scopes: ['orders:read', 'orders:write'], rbac: true }] });
});
afterAll(() => f?.close());

/** This file's operations; admin-api.test.ts covers /clients and /accounts. */
const prefixes = ['/roles', '/api-keys', '/signing-keys', '/audit-events'];

describe('generic errors', () => {
  it('answers 401, 403, 400 and 415 as documented on every operation', async () => {
    await checkGenericErrors(f, prefixes);
  });
});

describe('/roles', () => {
  it('creates, lists and reads roles with their permissions per API and holder counts', async () => {
    const created = await f.api.call('POST', '/roles', { token: f.writeToken, body: { name: 'clerk', description: 'Front desk' } });
    expect(created).toMatchObject({ status: 201, body: { name: 'clerk', description: 'Front desk', permissions: [], holders: { accounts: 0, clients: 0 } } });
    expect(created.headers.get('location')).toBe('/admin/api/v1/roles/clerk');
    expect(await f.api.call('POST', '/roles', { token: f.writeToken, body: { name: 'clerk' } })).toMatchObject({ status: 409, body: { error: 'role_exists' } });
    const badName = await f.api.call('POST', '/roles', { token: f.writeToken, body: { name: 'Clerk!' } });
    expect(badName).toMatchObject({ status: 422, body: { error: 'validation_failed' } });
    expect(badName.body.error_description).toMatch(/^body\.name: /);

    const user = await createAccount(f.t);
    await f.t.container.rbac.assign('clerk', { account: user.id }, 'test');
    await f.t.container.rbac.assign('clerk', { client: f.botId }, 'test');
    await f.t.container.rbac.grant('clerk', ordersApi, 'orders:read', 'test');
    const read = await f.api.call('GET', '/roles/{name}', { token: f.readToken, params: { name: 'clerk' } });
    expect(read).toMatchObject({ status: 200, body: { name: 'clerk', permissions: [{ api: ordersApi, permissions: ['orders:read'] }], holders: { accounts: 1, clients: 1 } } });
    expect(read.headers.get('etag')).toMatch(/^"[\w-]+"$/);
    expect(await f.api.call('GET', '/roles/{name}', { token: f.readToken, params: { name: 'ghost' } })).toMatchObject({ status: 404, body: { error: 'role_not_found' } });
    expect(await f.api.call('GET', '/roles/{name}', { token: f.readToken, params: { name: 'NOT VALID' } })).toMatchObject({ status: 422 });

    for (const name of ['r-a', 'r-b', 'r-c']) await f.t.container.rbac.create(name, undefined, 'test');
    const seen = (await allPages(f, '/roles')).map((role) => role.name as string);
    expect(seen).toEqual((await f.t.container.rbac.list()).map((role) => role.name));
    expect(seen).toEqual(expect.arrayContaining(['admin', 'clerk', 'r-a', 'r-b', 'r-c']));
    expect(await f.api.call('GET', '/roles', { token: f.readToken, query: { limit: 500 } })).toMatchObject({ status: 422 });
    expect(await auditRows(f.t, 'role.created')).toContainEqual(expect.objectContaining({ actor: `admin:${f.botId}`, details: { role: 'clerk' } }));
  });

  it('changes a description with PATCH and If-Match, auditing before/after', async () => {
    await f.t.container.rbac.create('auditor', 'Reads', 'test');
    const params = { name: 'auditor' };
    const etag = (await f.api.call('GET', '/roles/{name}', { token: f.readToken, params })).headers.get('etag')!;
    const changed = await f.api.call('PATCH', '/roles/{name}', { token: f.writeToken, params, headers: { 'if-match': etag }, body: { description: 'Reads the trail' } });
    expect(changed).toMatchObject({ status: 200, body: { description: 'Reads the trail' } });
    expect(changed.headers.get('etag')).not.toBe(etag);
    expect((await auditRows(f.t, 'role.updated')).filter((row) => row.details.role === 'auditor')).toEqual([
      expect.objectContaining({ actor: `admin:${f.botId}`, details: { role: 'auditor', before: { description: 'Reads' }, after: { description: 'Reads the trail' } } }),
    ]);
    expect(await f.api.call('PATCH', '/roles/{name}', { token: f.writeToken, params, headers: { 'if-match': etag }, body: { description: 'x' } })).toMatchObject({ status: 412 });
    expect(await f.api.call('PATCH', '/roles/{name}', { token: f.writeToken, params, body: { description: 'x' } })).toMatchObject({ status: 428 });
    expect(await f.api.call('PATCH', '/roles/{name}', { token: f.writeToken, params, headers: { 'if-match': '*' }, body: { name: 'renamed' } })).toMatchObject({ status: 422 });
    expect(await f.api.call('PATCH', '/roles/{name}', { token: f.writeToken, params: { name: 'ghost' }, headers: { 'if-match': '*' }, body: { description: 'x' } }))
      .toMatchObject({ status: 404, body: { error: 'role_not_found' } });
    const cleared = await f.api.call('PATCH', '/roles/{name}', { token: f.writeToken, params, headers: { 'if-match': changed.headers.get('etag')! }, body: { description: null } });
    expect(cleared).toMatchObject({ status: 200, body: { description: null } });
  });

  it('gives one of two concurrent PATCHes with the same ETag 200 and the other 412', async () => {
    await f.t.container.rbac.create('racing', undefined, 'test');
    const answers = await concurrentPatches(f, '/roles/{name}', { name: 'racing' }, [{ description: 'first' }, { description: 'second' }]);
    expect(answers.map((answer) => answer.status).sort()).toEqual([200, 412]);
  });

  it('replaces a role\'s permissions on one API with PUT and If-Match', async () => {
    await f.t.container.rbac.create('packer', undefined, 'test');
    const params = { name: 'packer', api: ordersApi };
    const etag = (await f.api.call('GET', '/roles/{name}', { token: f.readToken, params: { name: 'packer' } })).headers.get('etag')!;
    const set = await f.api.call('PUT', '/roles/{name}/permissions/{api}', { token: f.writeToken, params, headers: { 'if-match': etag }, body: { permissions: ['orders:write', 'orders:read'] } });
    expect(set).toMatchObject({ status: 200, body: { permissions: [{ api: ordersApi, permissions: ['orders:read', 'orders:write'] }] } });
    expect(await f.t.container.rbac.permissionsFor(['packer'], ordersApi)).toEqual(['orders:read', 'orders:write']);
    const tag = set.headers.get('etag')!;
    const narrowed = await f.api.call('PUT', '/roles/{name}/permissions/{api}', { token: f.writeToken, params, headers: { 'if-match': tag }, body: { permissions: ['orders:read'] } });
    expect(narrowed).toMatchObject({ status: 200, body: { permissions: [{ api: ordersApi, permissions: ['orders:read'] }] } });
    expect((await auditRows(f.t, 'role.permissions_changed')).filter((row) => row.details.role === 'packer').map((row) => row.details)).toEqual([
      { role: 'packer', api: ordersApi, before: { permissions: [] }, after: { permissions: ['orders:read', 'orders:write'] } },
      { role: 'packer', api: ordersApi, before: { permissions: ['orders:read', 'orders:write'] }, after: { permissions: ['orders:read'] } },
    ]);
    const newTag = narrowed.headers.get('etag')!;
    const undeclared = await f.api.call('PUT', '/roles/{name}/permissions/{api}', { token: f.writeToken, params, headers: { 'if-match': newTag }, body: { permissions: ['orders:delete'] } });
    expect(undeclared).toMatchObject({ status: 422, body: { error: 'unknown_permission' } });
    const unknownApi = await f.api.call('PUT', '/roles/{name}/permissions/{api}', { token: f.writeToken, params: { name: 'packer', api: 'https://nowhere.example.com' }, headers: { 'if-match': newTag }, body: { permissions: ['x'] } });
    expect(unknownApi).toMatchObject({ status: 422, body: { error: 'unknown_api' } });
    expect(await f.api.call('PUT', '/roles/{name}/permissions/{api}', { token: f.writeToken, params, headers: { 'if-match': etag }, body: { permissions: [] } })).toMatchObject({ status: 412 });
    expect(await f.api.call('PUT', '/roles/{name}/permissions/{api}', { token: f.writeToken, params, body: { permissions: [] } })).toMatchObject({ status: 428 });
    expect(await f.api.call('PUT', '/roles/{name}/permissions/{api}', { token: f.writeToken, params: { name: 'ghost', api: ordersApi }, headers: { 'if-match': '*' }, body: { permissions: [] } }))
      .toMatchObject({ status: 404 });
    const cleared = await f.api.call('PUT', '/roles/{name}/permissions/{api}', { token: f.writeToken, params, headers: { 'if-match': newTag }, body: { permissions: [] } });
    expect(cleared).toMatchObject({ status: 200, body: { permissions: [] } });
  });

  it('deletes a role, but not the admin role', async () => {
    await f.t.container.rbac.create('temp', undefined, 'test');
    expect((await f.api.call('DELETE', '/roles/{name}', { token: f.writeToken, params: { name: 'temp' } })).status).toBe(204);
    expect(await f.api.call('DELETE', '/roles/{name}', { token: f.writeToken, params: { name: 'temp' } })).toMatchObject({ status: 404, body: { error: 'role_not_found' } });
    expect(await f.api.call('DELETE', '/roles/{name}', { token: f.writeToken, params: { name: 'admin' } })).toMatchObject({ status: 409, body: { error: 'role_protected' } });
    expect(await f.api.call('DELETE', '/roles/{name}', { token: f.writeToken, params: { name: '-bad' } })).toMatchObject({ status: 422 });
    expect(await auditRows(f.t, 'role.deleted')).toContainEqual(expect.objectContaining({ actor: `admin:${f.botId}`, details: { role: 'temp' } }));
  });
});

describe('/api-keys', () => {
  it('creates a key for a service client, shows the token once, lists, reads, rotates and revokes it', async () => {
    const created = await f.api.call<{ key: Json; token: string }>('POST', '/api-keys', { token: f.writeToken, body: { clientId: f.botId, name: 'deploy', scopes: ['orders:read'], api: ordersApi } });
    expect(created).toMatchObject({ status: 201, body: { key: { ownerType: 'service', clientId: f.botId, name: 'deploy', scopes: ['orders:read'], api: ordersApi, revokedAt: null } } });
    const { key, token } = created.body;
    const id = key.id as string;
    expect(created.headers.get('location')).toBe(`/admin/api/v1/api-keys/${id}`);
    expect(await f.t.container.apiKeys.verify(token)).toMatchObject({ id });

    const read = await f.api.call('GET', '/api-keys/{apiKeyId}', { token: f.readToken, params: { apiKeyId: id } });
    expect(read).toMatchObject({ status: 200, body: { id } });
    expect(read.body).not.toHaveProperty('token');
    expect(read.body).not.toHaveProperty('secretDigest');
    expect(read.headers.get('etag')).toMatch(/^"/);
    const listed = await f.api.call<Page>('GET', '/api-keys', { token: f.readToken, query: { clientId: f.botId } });
    expect(listed.body.items.map((item) => item.id)).toContain(id);
    expect(listed.body.items.every((item) => item.clientId === f.botId)).toBe(true);

    const rotated = await f.api.call<{ key: Json; token: string }>('POST', '/api-keys/{apiKeyId}/rotate', { token: f.writeToken, params: { apiKeyId: id } });
    expect(rotated).toMatchObject({ status: 200, body: { key: { id } } });
    expect(await f.t.container.apiKeys.verify(token)).toBeUndefined();
    expect(await f.t.container.apiKeys.verify(rotated.body.token)).toMatchObject({ id });

    const revoked = await f.api.call('POST', '/api-keys/{apiKeyId}/revoke', { token: f.writeToken, params: { apiKeyId: id } });
    expect(revoked.body.revokedAt).toEqual(expect.any(String));
    expect(await f.t.container.apiKeys.verify(rotated.body.token)).toBeUndefined();
    expect(await f.api.call('POST', '/api-keys/{apiKeyId}/rotate', { token: f.writeToken, params: { apiKeyId: id } })).toMatchObject({ status: 422, body: { error: 'api_key_revoked' } });
    for (const type of ['api_key.created', 'api_key.rotated', 'api_key.revoked']) {
      expect((await auditRows(f.t, type)).filter((row) => row.details.apiKeyId === id).map((row) => row.actor)).toEqual([`admin:${f.botId}`]);
    }
  });

  it('creates personal keys by account, filters by account, and refuses bad owners and values', async () => {
    const user = await createAccount(f.t);
    const created = await f.api.call<{ key: Json }>('POST', '/api-keys', { token: f.writeToken, body: { accountId: user.email, name: 'laptop', expiresAt: new Date(Date.now() + 86_400_000).toISOString() } });
    expect(created).toMatchObject({ status: 201, body: { key: { ownerType: 'account', accountId: user.id, clientId: null } } });
    const listed = await f.api.call<Page>('GET', '/api-keys', { token: f.readToken, query: { accountId: user.id } });
    expect(listed.body.items.map((item) => item.id)).toEqual([created.body.key.id]);
    expect(await f.api.call('GET', '/api-keys', { token: f.readToken, query: { accountId: 'not-a-uuid' } })).toMatchObject({ status: 422 });

    expect(await f.api.call('POST', '/api-keys', { token: f.writeToken, body: { name: 'orphan' } })).toMatchObject({ status: 422, body: { error: 'invalid_owner' } });
    expect(await f.api.call('POST', '/api-keys', { token: f.writeToken, body: { name: 'both', clientId: f.botId, accountId: user.id } })).toMatchObject({ status: 422, body: { error: 'invalid_owner' } });
    expect(await f.api.call('POST', '/api-keys', { token: f.writeToken, body: { name: 'x', clientId: 'no-such-client' } })).toMatchObject({ status: 404, body: { error: 'client_not_found' } });
    expect(await f.api.call('POST', '/api-keys', { token: f.writeToken, body: { name: 'x', clientId: f.botId, api: ordersApi, scopes: ['orders:delete'] } }))
      .toMatchObject({ status: 422, body: { error: 'invalid_scope' } });
    expect(await f.api.call('POST', '/api-keys', { token: f.writeToken, body: { name: 'x', clientId: f.botId, expiresAt: '2001-01-01T00:00:00Z' } }))
      .toMatchObject({ status: 422, body: { error: 'invalid_expiry' } });
    expect(await f.api.call('POST', '/api-keys', { token: f.writeToken, body: { name: 'x', clientId: f.botId, expiresAt: 'tomorrow' } }))
      .toMatchObject({ status: 422, body: { error: 'validation_failed' } });
  });

  it('pages through keys and answers 404 for unknown ids and 422 for malformed ones', async () => {
    for (const name of ['k1', 'k2', 'k3']) await f.t.container.apiKeys.create({ owner: { type: 'service', clientId: f.botId }, name }, 'test');
    const seen = (await allPages(f, '/api-keys')).map((item) => item.id as string);
    expect(seen).toEqual((await f.t.container.apiKeys.list()).map((key) => key.id));
    const unknown = { apiKeyId: 'f'.repeat(20) };
    for (const [method, path] of [['GET', '/api-keys/{apiKeyId}'], ['POST', '/api-keys/{apiKeyId}/revoke'], ['POST', '/api-keys/{apiKeyId}/rotate']] as const) {
      expect(await f.api.call(method, path, { token: f.writeToken, params: unknown }), `${method} ${path}`).toMatchObject({ status: 404, body: { error: 'api_key_not_found' } });
      expect(await f.api.call(method, path, { token: f.writeToken, params: { apiKeyId: 'not a key id' } }), `${method} ${path}`).toMatchObject({ status: 422 });
    }
  });
});

describe('/signing-keys', () => {
  it('lists public facts only and rotates after the publish lead or at once', async () => {
    const listed = await f.api.call<{ items: Json[] }>('GET', '/signing-keys', { token: f.readToken });
    expect(listed.status).toBe(200);
    expect(listed.body.items.filter((key) => key.status === 'signing')).toHaveLength(1);
    for (const key of listed.body.items) expect(Object.keys(key).sort()).toEqual(['activatesAt', 'alg', 'createdAt', 'expiresAt', 'kid', 'retiredAt', 'status']);

    const later = await f.api.call('POST', '/signing-keys/rotate', { token: f.writeToken });
    expect(later).toMatchObject({ status: 201, body: { status: 'next' } });
    const now = await f.api.call('POST', '/signing-keys/rotate', { token: f.writeToken, body: { immediate: true } });
    expect(now).toMatchObject({ status: 201, body: { status: 'signing' } });
    const after = await f.api.call<{ items: Json[] }>('GET', '/signing-keys', { token: f.readToken });
    expect(after.body.items.find((key) => key.status === 'signing')?.kid).toBe(now.body.kid);
    expect(await f.api.call('POST', '/signing-keys/rotate', { token: f.writeToken, body: { immediate: 'yes' } })).toMatchObject({ status: 422, body: { error: 'validation_failed' } });
    expect((await auditRows(f.t, 'key.rotated')).map((row) => row.actor)).toEqual([`admin:${f.botId}`, `admin:${f.botId}`]);
  });
});

describe('/audit-events', () => {
  it('filters by account, actor, type and client, newest first, with keyset paging', async () => {
    const user = await createAccount(f.t);
    for (const description of ['one', 'two', 'three']) await f.t.container.accountAdmin.update(user.id, { name: description }, 'admin:audit-test');
    const all = await f.api.call<Page>('GET', '/audit-events', { token: f.readToken, query: { accountId: user.id } });
    expect(all.body.items.map((event) => event.type)).toEqual(['account.updated', 'account.updated', 'account.updated', 'account.created']);
    const ids = all.body.items.map((event) => BigInt(event.id as string));
    expect(ids).toEqual([...ids].sort((a, b) => (a > b ? -1 : 1)));
    expect(all.body.items[0]).toMatchObject({ actor: 'admin:audit-test', accountId: user.id, details: { before: { name: 'two' }, after: { name: 'three' } } });
    expect(all.body.items[0]).not.toHaveProperty('hash');

    const seen = (await allPages(f, '/audit-events', { query: { accountId: user.id }, limit: 3 })).map((event) => event.id as string);
    expect(seen).toEqual(all.body.items.map((event) => event.id));

    const byActor = await f.api.call<Page>('GET', '/audit-events', { token: f.readToken, query: { actor: 'admin:audit-test', type: 'account.updated' } });
    expect(byActor.body.items).toHaveLength(3);
    const byClient = await f.api.call<Page>('GET', '/audit-events', { token: f.readToken, query: { clientId: f.botId, type: 'role.assigned' } });
    // The bot was given the admin role at start, and the clerk role above.
    expect(byClient.body.items.map((event) => [event.clientId, (event.details as Json).role])).toEqual([[f.botId, 'clerk'], [f.botId, 'admin']]);
    const newest = all.body.items[0]!.occurredAt as string;
    const before = await f.api.call<Page>('GET', '/audit-events', { token: f.readToken, query: { accountId: user.id, until: newest } });
    expect(before.body.items.map((event) => event.id)).not.toContain(all.body.items[0]!.id);
    const since = await f.api.call<Page>('GET', '/audit-events', { token: f.readToken, query: { accountId: user.id, since: newest } });
    expect(since.body.items.map((event) => event.id)).toContain(all.body.items[0]!.id);
    expect((await f.api.call<Page>('GET', '/audit-events', { token: f.readToken, query: { since: '2999-01-01' } })).body).toEqual({ items: [], nextCursor: null });
  });

  it('answers 422 for bad filters and cursors', async () => {
    for (const query of [{ accountId: 'nope' }, { since: 'yesterday' }, { limit: 0 }, { cursor: 'garbage' }]) {
      const answer = await f.api.call('GET', '/audit-events', { token: f.readToken, query });
      expect(answer.status, JSON.stringify(query)).toBe(422);
    }
  });
});

describe('coverage', () => {
  it('saw every documented status of every operation here, each body valid against the document', () => {
    expect(f.api.unseen(prefixes)).toEqual([]);
  });
});
