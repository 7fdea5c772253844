import { beforeAll, describe, expect, it } from 'vitest';
import { cliFixture } from '../helpers/cli-fixture.js';

/** `roles show`, `roles update` and `roles set-permissions`: what the console's role page does, from the command line. */

interface RoleDetailJson {
  id: string; name: string; description: string | null; created_at: string;
  permissions: Array<{ api: string; permissions: string[] }>;
  holders: { accounts: number; clients: number };
}
interface RoleShowJson extends RoleDetailJson {
  accounts: Array<{ id: string; email: string; name: string | null; disabled: boolean }>;
  clients: Array<{ client_id: string; name: string; type: string }>;
  next_after: string | null;
}

const api = 'https://tickets.example.test';
const t = cliFixture();
const { cli, cliJson } = t;

beforeAll(async () => {
  // A database API: the CLI finds it like the server does, without a config file.
  await t.container.apis.create({ identifier: api, name: 'Tickets', scopes: ['tickets:read', 'tickets:write', 'tickets:close'], rbac: true }, 'test');
});

async function events(type: string, role: string) {
  const { rows } = await t.sql.query<{ actor: string; details: Record<string, unknown> }>(
    `SELECT actor, details FROM audit_events WHERE type = $1 AND details->>'role' = $2 ORDER BY id`, [type, role]);
  return rows;
}

function expectRefusal(result: { code: number; stdout: string; stderr: string }, code: number, text: string): void {
  expect(result.code).toBe(code);
  expect(result.stdout).toBe('');
  expect(result.stderr.split('\n')).toHaveLength(1);
  expect(result.stderr).toBe(`portcullis: ${text}`);
}

describe('roles set-permissions', () => {
  it('replaces the role\'s permissions on one API with exactly those given, audited once with before and after', async () => {
    await t.container.rbac.create('support', undefined, 'test');
    const set = await cliJson<RoleDetailJson>(['roles', 'set-permissions', 'support', '--api', api, '--permission', 'tickets:write', '--permission', 'tickets:read']);
    expect(set).toMatchObject({ name: 'support', permissions: [{ api, permissions: ['tickets:read', 'tickets:write'] }], holders: { accounts: 0, clients: 0 } });
    const replaced = await cliJson<RoleDetailJson>(['roles', 'set-permissions', 'support', '--api', api, '--permission', 'tickets:close']);
    expect(replaced.permissions).toEqual([{ api, permissions: ['tickets:close'] }]);
    // The same set again changes nothing and records nothing.
    await cliJson(['roles', 'set-permissions', 'support', '--api', api, '--permission', 'tickets:close']);
    const changes = await events('role.permissions_changed', 'support');
    expect(changes).toHaveLength(2);
    expect(changes[1]).toMatchObject({ actor: 'cli', details: { api, before: { permissions: ['tickets:read', 'tickets:write'] }, after: { permissions: ['tickets:close'] } } });

    const human = await cli(['roles', 'set-permissions', 'support', '--api', api, '--permission', 'tickets:read', '--permission', 'tickets:close']);
    expect(human).toMatchObject({ code: 0, stdout: `support may tickets:close tickets:read on ${api}` });
    const none = await cli(['roles', 'set-permissions', 'support', '--api', api, '--none']);
    expect(none).toMatchObject({ code: 0, stdout: `support has no permissions on ${api}` });
    expect((await t.container.rbac.show('support')).permissions).toEqual([]);
  });

  it('exits 2 without --api or a choice of permissions, and 1 for scopes the API does not declare or an unknown role', async () => {
    expectRefusal(await cli(['roles', 'set-permissions', 'support', '--permission', 'tickets:read']), 2, '--api is required');
    expectRefusal(await cli(['roles', 'set-permissions', 'support', '--api', api]), 2, 'give --permission <scope> (one or more) or --none');
    expectRefusal(await cli(['roles', 'set-permissions', 'support', '--api', api, '--none', '--permission', 'tickets:read']), 2, 'give --permission <scope> (one or more) or --none');
    expectRefusal(await cli(['roles', 'set-permissions', 'support', '--api', api, '--permission', 'tickets:burn']), 1,
      `tickets:burn is not a scope declared by ${api}; declared: tickets:read tickets:write tickets:close`);
    expectRefusal(await cli(['roles', 'set-permissions', 'support', '--api', 'https://nowhere.example.test', '--permission', 'x']), 1,
      'https://nowhere.example.test is not a registered API (config apis or apis create)');
    expectRefusal(await cli(['roles', 'set-permissions', 'ghost', '--api', api, '--none']), 1, 'no role named ghost');
  });
});

describe('roles update', () => {
  it('changes the description, clears it with "", and refuses more than 500 characters', async () => {
    await t.container.rbac.create('triage', 'old words', 'test');
    expect(await cliJson<RoleDetailJson>(['roles', 'update', 'triage', '--description', 'Sorts incoming tickets'])).toMatchObject({ name: 'triage', description: 'Sorts incoming tickets' });
    expect((await events('role.updated', 'triage'))[0]).toMatchObject({ actor: 'cli', details: { before: { description: 'old words' }, after: { description: 'Sorts incoming tickets' } } });
    expect(await cliJson<RoleDetailJson>(['roles', 'update', 'triage', '--description', ''])).toMatchObject({ description: null });
    const human = await cli(['roles', 'update', 'triage', '--description', 'Back again']);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^name: triage\ndescription: Back again\ncreated_at: \d{4}-.*\npermissions: none\nholders: 0 accounts, 0 clients$/);

    expectRefusal(await cli(['roles', 'update', 'triage']), 2, '--description is required (--description "" clears it)');
    expectRefusal(await cli(['roles', 'update', 'triage', '--description', 'x'.repeat(501)]), 1, 'description is at most 500 characters');
    expectRefusal(await cli(['roles', 'update', 'ghost', '--description', 'x']), 1, 'no role named ghost');
  });
});

describe('roles show', () => {
  it('shows description, permissions per API, and the holders: accounts by email a page at a time, and clients', async () => {
    await t.container.rbac.create('agent', 'Answers tickets', 'test');
    await t.container.rbac.setPermissions('agent', api, ['tickets:read', 'tickets:write'], 'test');
    const emails = ['carol@agents.test', 'Alice@agents.test', 'bob@agents.test'];
    const ids: string[] = [];
    for (const email of emails) {
      const account = await t.container.accounts.create({ email, password: 'correct horse battery staple', name: email.split('@')[0] }, 'test');
      ids.push(account.id);
      await t.container.rbac.assign('agent', { account: email }, 'test');
    }
    await t.container.accountAdmin.disable(ids[2]!, 'test');
    const { client } = await t.container.clients.create({ name: 'Mail bridge', type: 'service' }, 'test');
    await t.container.rbac.assign('agent', { client: client.clientId }, 'test');

    const first = await cliJson<RoleShowJson>(['roles', 'show', 'agent', '--limit', '2']);
    expect(first).toMatchObject({
      name: 'agent', description: 'Answers tickets', permissions: [{ api, permissions: ['tickets:read', 'tickets:write'] }], holders: { accounts: 3, clients: 1 },
      clients: [{ client_id: client.clientId, name: 'Mail bridge', type: 'service' }], next_after: 'bob@agents.test',
    });
    expect(first.accounts).toEqual([
      { id: ids[1], email: 'Alice@agents.test', name: 'Alice', disabled: false },
      { id: ids[2], email: 'bob@agents.test', name: 'bob', disabled: true },
    ]);
    const rest = await cliJson<RoleShowJson>(['roles', 'show', 'agent', '--limit', '2', '--after', first.next_after!]);
    expect(rest.accounts.map((account) => account.email)).toEqual(['carol@agents.test']);
    expect(rest.next_after).toBeNull();

    const human = await cli(['roles', 'show', 'agent', '--limit', '2']);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain(`permissions:\n  ${api}  tickets:read tickets:write\nholders: 3 accounts, 1 clients`);
    expect(human.stdout).toContain(`accounts:\n  ${ids[1]}  Alice@agents.test\n  ${ids[2]}  bob@agents.test  (disabled)\nclients:\n  ${client.clientId}  Mail bridge\nmore accounts: --after bob@agents.test`);
  });

  it('exits 2 for a bad --limit or a missing name, and 1 for an unknown role', async () => {
    expectRefusal(await cli(['roles', 'show']), 2, 'missing <name>');
    expectRefusal(await cli(['roles', 'show', 'agent', '--limit', '0']), 2, '--limit must be a whole number from 1 to 1000');
    expectRefusal(await cli(['roles', 'show', 'ghost']), 1, 'no role named ghost');
  });
});

describe('roles list', () => {
  it('tells how many accounts and clients hold each role', async () => {
    await t.container.rbac.create('lister', undefined, 'test');
    await t.container.accounts.create({ email: 'dave@listers.test', password: 'correct horse battery staple', roles: ['lister'] }, 'test');
    const listed = await cliJson<Array<{ name: string; holders: { accounts: number; clients: number } }>>(['roles', 'list']);
    expect(listed.find((role) => role.name === 'lister')).toMatchObject({ holders: { accounts: 1, clients: 0 } });
    expect((await cli(['roles', 'list'])).stdout).toContain('lister  [1 accounts, 0 clients]');
  });
});

describe('--help', () => {
  it('lists the role commands the console\'s role page has', async () => {
    const help = await cli(['--help']);
    for (const command of ['roles show', 'roles update', 'roles set-permissions']) expect(help.stdout).toContain(`  ${command}`);
  });
});
