import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createContainer, type Container } from '../../src/container.js';
import { createLogger } from '../../src/infra/logger.js';
import { testEnvironment } from '../helpers/test-server.js';
import { cliRunner } from '../helpers/cli-runner.js';

const api = 'https://orders.example.test';
const apis = [{ identifier: api, scopes: ['orders:read', 'orders:write'], rbac: true }];

let env: Record<string, string>;
let sql: pg.Client;
let container: Container;
let accountId: string;
let clientId: string;

beforeAll(async () => {
  const environment = await testEnvironment({ apis });
  // The CLI reads its config from files and env; JSON is YAML, so the apis ride in PORTCULLIS_CONFIG.
  const configFile = path.join(tmpdir(), `portcullis-rbac-${process.pid}.yaml`);
  writeFileSync(configFile, JSON.stringify({ apis }));
  env = { ...environment.env, PORTCULLIS_CONFIG: configFile };
  sql = new pg.Client({ connectionString: environment.databaseUrl });
  await sql.connect();
  container = await createContainer(environment.config, createLogger('silent'), { migrate: false, redis: false });
  accountId = (await container.accounts.create({ email: 'grace@example.com', password: 'correct horse battery staple', verified: true }, 'test')).id;
  clientId = (await container.clients.create({ name: 'Worker', type: 'service' }, 'test')).client.clientId;
});

afterAll(async () => {
  await container?.close();
  await sql?.end();
});

const { cli, cliJson } = cliRunner(() => env);


async function events(type: string) {
  const { rows } = await sql.query<{ actor: string; account_id: string | null; client_id: string | null; details: Record<string, unknown> }>(
    `SELECT actor, account_id, client_id, details FROM audit_events WHERE type = $1 ORDER BY id`, [type]);
  return rows;
}

describe('role repository', () => {
  it('grants, assigns and resolves permissions by role names and API', async () => {
    const repos = container.db.repos;
    const reader = (await repos.roles.create('repo-reader', 'reads'))!;
    expect(await repos.roles.create('repo-reader', null)).toBeUndefined();
    expect(await repos.roles.grant(reader.id, api, 'orders:read')).toBe(true);
    expect(await repos.roles.grant(reader.id, api, 'orders:read')).toBe(false);
    await repos.roles.grant(reader.id, 'https://other.example.test', 'orders:write');
    await repos.roles.assign(accountId, reader.id);
    await repos.roles.assignToClient(clientId, reader.id);
    expect(await repos.roles.namesForAccount(accountId)).toContain('repo-reader');
    expect(await repos.roles.namesForClient(clientId)).toEqual(['repo-reader']);
    expect(await repos.roles.permissionsFor(['repo-reader', 'nobody'], api)).toEqual(['orders:read']);
    expect(await repos.roles.permissionsFor([], api)).toEqual([]);
    expect(await repos.roles.unassignFromClient(clientId, reader.id)).toBe(true);
    expect(await repos.roles.unassignFromClient(clientId, reader.id)).toBe(false);
    expect(await repos.roles.revoke(reader.id, api, 'orders:read')).toBe(true);
    await repos.roles.delete(reader.id);
    expect(await repos.roles.namesForAccount(accountId)).not.toContain('repo-reader');
    const { rows } = await sql.query('SELECT * FROM role_permissions WHERE role_id = $1', [reader.id]);
    expect(rows).toEqual([]);
  });

  it('drops a deleted client\'s role assignments', async () => {
    const role = await container.db.repos.roles.ensure('cascade-check');
    const doomed = (await container.clients.create({ name: 'Doomed', type: 'service' }, 'test')).client.clientId;
    await container.db.repos.roles.assignToClient(doomed, role.id);
    await container.clients.delete(doomed, 'test');
    const { rows } = await sql.query('SELECT * FROM client_roles WHERE client_id = $1', [doomed]);
    expect(rows).toEqual([]);
  });
});

describe('rbac service', () => {
  it('refuses bad role names, duplicate roles, unknown APIs and undeclared permissions', async () => {
    await expect(container.rbac.create('Bad Name', undefined, 'admin:x')).rejects.toMatchObject({ code: 'invalid_role_name', status: 400 });
    await expect(container.rbac.create('9lives', undefined, 'admin:x')).rejects.toMatchObject({ code: 'invalid_role_name' });
    await expect(container.rbac.create(`a${'b'.repeat(64)}`, undefined, 'admin:x')).rejects.toMatchObject({ code: 'invalid_role_name' });
    await container.rbac.create('svc-role', 'for tests', 'admin:x');
    await expect(container.rbac.create('svc-role', undefined, 'admin:x')).rejects.toMatchObject({ code: 'role_exists', status: 409 });
    await expect(container.rbac.grant('svc-role', 'https://unknown.example.test', 'orders:read', 'admin:x')).rejects.toMatchObject({ code: 'unknown_api', status: 400 });
    await expect(container.rbac.grant('svc-role', api, 'orders:delete', 'admin:x')).rejects.toMatchObject({ code: 'unknown_permission', status: 400, message: expect.stringMatching(/orders:read orders:write/) });
    await expect(container.rbac.grant('no-such-role', api, 'orders:read', 'admin:x')).rejects.toMatchObject({ code: 'role_not_found', status: 404 });
    await expect(container.rbac.assign('svc-role', { account: 'nobody@example.com' }, 'admin:x')).rejects.toMatchObject({ code: 'account_not_found' });
    await expect(container.rbac.assign('svc-role', { client: 'no-such-client' }, 'admin:x')).rejects.toMatchObject({ code: 'client_not_found' });
  });

  it('audits every change with the actor it is given', async () => {
    await container.rbac.create('auditor', undefined, 'admin:alice');
    expect(await container.rbac.grant('auditor', api, 'orders:read', 'admin:alice')).toBe(true);
    expect(await container.rbac.grant('auditor', api, 'orders:read', 'admin:alice')).toBe(false);
    await container.rbac.assign('auditor', { account: 'grace@example.com' }, 'admin:alice');
    await container.rbac.assign('auditor', { client: clientId }, 'admin:alice');
    expect(await container.rbac.rolesForAccount(accountId)).toContain('auditor');
    expect(await container.rbac.permissionsFor(await container.rbac.rolesForClient(clientId), api)).toEqual(['orders:read']);
    expect(await container.rbac.unassign('auditor', { account: accountId }, 'admin:alice')).toBe(true);
    expect(await container.rbac.unassign('auditor', { client: clientId }, 'admin:alice')).toBe(true);
    expect(await container.rbac.revoke('auditor', api, 'orders:read', 'admin:alice')).toBe(true);
    await container.rbac.delete('auditor', 'admin:alice');

    expect((await events('role.created')).filter((e) => e.details.role === 'auditor')).toEqual([{ actor: 'admin:alice', account_id: null, client_id: null, details: { role: 'auditor' } }]);
    expect((await events('role.permission_granted')).filter((e) => e.details.role === 'auditor')).toEqual([
      { actor: 'admin:alice', account_id: null, client_id: null, details: { role: 'auditor', api, permission: 'orders:read' } }]);
    expect((await events('role.assigned')).filter((e) => e.details.role === 'auditor')).toEqual([
      { actor: 'admin:alice', account_id: accountId, client_id: null, details: { role: 'auditor' } },
      { actor: 'admin:alice', account_id: null, client_id: clientId, details: { role: 'auditor' } }]);
    expect((await events('role.unassigned')).filter((e) => e.details.role === 'auditor')).toHaveLength(2);
    expect((await events('role.permission_revoked')).filter((e) => e.details.role === 'auditor')).toHaveLength(1);
    expect((await events('role.deleted')).filter((e) => e.details.role === 'auditor')).toEqual([{ actor: 'admin:alice', account_id: null, client_id: null, details: { role: 'auditor' } }]);
    expect(await container.audit.verify()).toMatchObject({ ok: true });
  });
});

describe('portcullis roles', () => {
  it('creates, grants, assigns, lists, revokes, unassigns and deletes with --json', async () => {
    expect(await cliJson(['roles', 'create', 'cli-ops', '--description', 'operators'])).toMatchObject({ name: 'cli-ops', description: 'operators' });
    expect(await cliJson(['roles', 'grant', 'cli-ops', '--api', api, '--permission', 'orders:write'])).toEqual({ name: 'cli-ops', api, permission: 'orders:write', granted: true, changed: true });
    expect(await cliJson(['roles', 'assign', 'cli-ops', '--account', 'grace@example.com'])).toEqual({ name: 'cli-ops', account: 'grace@example.com', assigned: true });
    expect(await cliJson(['roles', 'assign', 'cli-ops', `--client=${clientId}`])).toEqual({ name: 'cli-ops', client_id: clientId, assigned: true });
    const listed = await cliJson<Array<{ name: string; permissions: unknown[] }>>(['roles', 'list']);
    expect(listed.find((r) => r.name === 'cli-ops')).toMatchObject({ permissions: [{ api, permission: 'orders:write' }] });
    expect(await container.rbac.rolesForClient(clientId)).toContain('cli-ops');
    expect((await events('role.assigned')).filter((e) => e.details.role === 'cli-ops').map((e) => e.actor)).toEqual(['cli', 'cli']);

    expect(await cliJson(['roles', 'unassign', 'cli-ops', `--client=${clientId}`])).toMatchObject({ assigned: false, changed: true });
    expect(await cliJson(['roles', 'unassign', 'cli-ops', '--account', accountId])).toMatchObject({ assigned: false, changed: true });
    expect(await cliJson(['roles', 'revoke', 'cli-ops', '--api', api, '--permission', 'orders:write'])).toMatchObject({ granted: false, changed: true });
    expect(await cliJson(['roles', 'delete', 'cli-ops'])).toEqual({ name: 'cli-ops', deleted: true });
    expect((await container.rbac.list()).map((r) => r.name)).not.toContain('cli-ops');
  });

  it('prints for people without --json', async () => {
    const result = await cli(['roles', 'create', 'cli-human']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^id: .*\nname: cli-human/);
    expect((await cli(['roles', 'grant', 'cli-human', '--api', api, '--permission', 'orders:read'])).stdout).toBe(`cli-human may orders:read on ${api}`);
  });

  it('exits 2 on bad usage and 1 on refused input, with one line on stderr', async () => {
    expect(await cli(['roles', 'assign', 'x'])).toMatchObject({ code: 2, stderr: 'portcullis: give exactly one of --account <id|email> or --client <client_id>' });
    expect(await cli(['roles', 'assign', 'x', '--account', 'a@b.c', '--client', 'c'])).toMatchObject({ code: 2 });
    expect(await cli(['roles', 'grant', 'x', '--api', api])).toMatchObject({ code: 2, stderr: 'portcullis: --permission is required' });
    expect(await cli(['roles', 'create'])).toMatchObject({ code: 2, stderr: 'portcullis: missing <name>' });
    expect(await cli(['roles', 'create', 'Not Valid'])).toMatchObject({ code: 1, stderr: expect.stringMatching(/^portcullis: a role name is 1-64 characters/) });
    await cli(['roles', 'create', 'cli-dup']);
    expect(await cli(['roles', 'create', 'cli-dup'])).toMatchObject({ code: 1, stderr: 'portcullis: a role named cli-dup already exists' });
    expect(await cli(['roles', 'grant', 'cli-dup', '--api', api, '--permission', 'orders:delete'])).toMatchObject({
      code: 1, stderr: `portcullis: orders:delete is not a scope declared by ${api}; declared: orders:read orders:write` });
    expect(await cli(['roles', 'delete', 'nope'])).toMatchObject({ code: 1, stderr: 'portcullis: no role named nope' });
    expect(await cli(['roles', 'assign', 'cli-dup', '--client', 'missing'])).toMatchObject({ code: 1, stderr: 'portcullis: no client with id missing' });
  });
});
