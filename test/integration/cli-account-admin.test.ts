import { describe, expect, it } from 'vitest';
import { cliFixture } from '../helpers/cli-fixture.js';
import type { CliResult } from '../helpers/cli-runner.js';

/** The account commands built on accountAdmin (verify-email, set-roles, update, delete) and `audit list`. */

interface UserJson { id: string; email: string; email_verified: boolean; name: string | null; roles: string[]; disabled: boolean; mfa_required: boolean }

const t = cliFixture();
const { cli, cliJson } = t;

function expectRefusal(result: CliResult, code: number, text: string): void {
  expect(result.code).toBe(code);
  expect(result.stdout).toBe('');
  expect(result.stderr).toMatch(/^portcullis: /);
  expect(result.stderr.split('\n')).toHaveLength(1);
  expect(result.stderr).toContain(text);
}

async function auditOf(accountId: string) {
  const { rows } = await t.sql.query<{ type: string; actor: string; details: Record<string, unknown> }>(
    'SELECT type, actor, details FROM audit_events WHERE account_id = $1 ORDER BY id', [accountId]);
  return rows;
}

const newAccount = (email: string, name?: string) => t.container.accounts.create({ email, password: 'correct horse battery staple', name }, 'test');

describe('users verify-email, update, set-roles, delete', () => {
  it('verifies an email and changes name and MFA requirement, auditing before/after', async () => {
    const account = await newAccount('lin@example.com', 'Lin');
    expect(await cliJson<UserJson>(['users', 'verify-email', 'lin@example.com'])).toMatchObject({ id: account.id, email_verified: true });
    const updated = await cliJson<UserJson>(['users', 'update', account.id, '--name', 'Lin Q', '--mfa-required', 'true']);
    expect(updated).toMatchObject({ name: 'Lin Q', mfa_required: true });
    expect((await cli(['users', 'update', account.id, '--name', ''])).stdout).toContain('name: null');
    const events = (await auditOf(account.id)).filter((event) => event.actor === 'cli');
    expect(events.map((event) => [event.type, event.details])).toEqual([
      ['account.email_verified', { before: { emailVerified: false }, after: { emailVerified: true } }],
      ['account.updated', { before: { name: 'Lin', mfaRequired: false }, after: { name: 'Lin Q', mfaRequired: true } }],
      ['account.updated', { before: { name: 'Lin Q' }, after: { name: null } }],
    ]);
    expectRefusal(await cli(['users', 'update', account.id, '--mfa-required', 'maybe']), 2, '--mfa-required must be true or false');
    expectRefusal(await cli(['users', 'update', account.id]), 2, 'nothing to change');
    expectRefusal(await cli(['users', 'verify-email', 'nobody@example.com']), 1, 'no account nobody@example.com');
  });

  it('replaces roles with existing ones only', async () => {
    const account = await newAccount('ro@example.com');
    await t.container.rbac.create('ops', undefined, 'test');
    await t.container.rbac.create('dev', undefined, 'test');
    expect(await cliJson<UserJson>(['users', 'set-roles', 'ro@example.com', '--role', 'ops', '--role', 'dev'])).toMatchObject({ roles: ['dev', 'ops'] });
    expect(await cliJson<UserJson>(['users', 'set-roles', account.id, '--role', 'ops'])).toMatchObject({ roles: ['ops'] });
    expectRefusal(await cli(['users', 'set-roles', account.id, '--role', 'ghost']), 1, 'no role named ghost');
    expectRefusal(await cli(['users', 'set-roles', account.id]), 2, '--role is required');
    expect(await cliJson<UserJson>(['users', 'set-roles', account.id, '--none'])).toMatchObject({ roles: [] });
    const changes = (await auditOf(account.id)).filter((event) => event.type === 'account.roles_changed').map((event) => event.details);
    expect(changes).toEqual([
      { before: { roles: [] }, after: { roles: ['dev', 'ops'] }, added: ['dev', 'ops'], removed: [] },
      { before: { roles: ['dev', 'ops'] }, after: { roles: ['ops'] }, added: [], removed: ['dev'] },
      { before: { roles: ['ops'] }, after: { roles: [] }, added: [], removed: ['ops'] },
    ]);
  });

  it('deletes an account with its API keys', async () => {
    const account = await newAccount('gone@example.com');
    const key = await t.container.apiKeys.create({ owner: { type: 'account', accountId: account.id }, name: 'k' }, 'test');
    expect(await cliJson(['users', 'delete', 'gone@example.com'])).toEqual({ id: account.id, email: 'gone@example.com', deleted: true });
    expect(await t.container.apiKeys.verify(key.token)).toBeUndefined();
    expectRefusal(await cli(['users', 'show', account.id]), 1, `no account ${account.id}`);
    expect((await auditOf(account.id)).at(-1)).toMatchObject({ type: 'account.deleted', actor: 'cli', details: { email: 'gone@example.com', apiKeyCount: 1 } });
    expectRefusal(await cli(['users', 'delete', account.id]), 1, 'no account');
  });

  it('unlocks by account id too', async () => {
    const account = await newAccount('locked@example.com');
    expect(await cliJson(['users', 'unlock', account.id])).toEqual({ email: 'locked@example.com', unlocked: true });
    expect((await auditOf(account.id)).at(-1)).toMatchObject({ type: 'account.unlocked', actor: 'cli' });
  });
});

interface EventJson { id: string; type: string; actor: string; account_id: string | null; details: Record<string, unknown> }

describe('audit list', () => {
  it('lists events newest first with filters and a cursor', async () => {
    const account = await newAccount('trail@example.com');
    for (const name of ['a', 'b', 'c']) await t.container.accountAdmin.update(account.id, { name }, 'cli-test');
    const all = await cliJson<{ events: EventJson[]; next_cursor: string | null }>(['audit', 'list', '--account', account.id]);
    expect(all.events.map((event) => event.type)).toEqual(['account.updated', 'account.updated', 'account.updated', 'account.created']);
    expect(all.next_cursor).toBeNull();
    const first = await cliJson<{ events: EventJson[]; next_cursor: string | null }>(['audit', 'list', '--account', account.id, '--limit', '2']);
    expect(first.events.map((event) => event.id)).toEqual(all.events.slice(0, 2).map((event) => event.id));
    const rest = await cliJson<{ events: EventJson[]; next_cursor: string | null }>(['audit', 'list', '--account', account.id, '--limit', '2', '--cursor', first.next_cursor!]);
    expect(rest.events.map((event) => event.id)).toEqual(all.events.slice(2).map((event) => event.id));
    const typed = await cliJson<{ events: EventJson[] }>(['audit', 'list', '--type', 'account.updated', '--actor', 'cli-test']);
    expect(typed.events).toHaveLength(3);
    expect(typed.events[0]!.details).toEqual({ before: { name: 'b' }, after: { name: 'c' } });
    expect((await cli(['audit', 'list', '--since', '2999-01-01'])).stdout).toBe('no events');
    expect((await cli(['audit', 'list', '--account', account.id, '--limit', '1'])).stdout).toMatch(/account\.updated .*\nmore: --cursor \S+$/);
    expectRefusal(await cli(['audit', 'list', '--since', 'yesterday']), 2, '--since must be an ISO 8601 date or time');
    expectRefusal(await cli(['audit', 'list', '--limit', '0']), 2, '--limit must be a whole number from 1 to 1000');
    expectRefusal(await cli(['audit', 'list', '--account', 'someone']), 2, '--account must be an account id');
    expect((await cliJson<{ events: EventJson[] }>(['audit', 'list', '--account', 'TRAIL@example.com'])).events).toEqual(all.events);
  });
});
