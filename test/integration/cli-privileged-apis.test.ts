import { describe, expect, it } from 'vitest';
import { cliFixture } from '../helpers/cli-fixture.js';

const t = cliFixture();
const { cli, cliJson } = t;

async function clientAudit(clientId: string) {
  const { rows } = await t.sql.query<{ type: string; actor: string; details: Record<string, unknown> }>(
    'SELECT type, actor, details FROM audit_events WHERE client_id = $1 ORDER BY id', [clientId]);
  return rows;
}

describe('clients --allow-admin-api', () => {
  it('allows a client privileged APIs on create, withdraws it on update, and audits both', async () => {
    const created = await cliJson<{ client_id: string; allow_admin_api: boolean }>([
      'clients',
      'create',
      '--name',
      'Ops bot',
      '--type',
      'service',
      '--allow-admin-api',
    ]);
    expect(created.allow_admin_api).toBe(true);
    const plain = await cliJson<{ allow_admin_api: boolean }>([
      'clients',
      'create',
      '--name',
      'Plain bot',
      '--type',
      'service',
    ]);
    expect(plain.allow_admin_api).toBe(false);

    const updated = await cliJson<{ allow_admin_api: boolean }>([
      'clients',
      'update',
      created.client_id,
      '--no-allow-admin-api',
    ]);
    expect(updated.allow_admin_api).toBe(false);
    const audit = await clientAudit(created.client_id);
    expect(audit[0]).toMatchObject({
      type: 'client.created',
      actor: 'cli',
      details: expect.objectContaining({ allowAdminApi: true }),
    });
    expect(audit[1]).toMatchObject({
      type: 'client.updated',
      actor: 'cli',
      details: { before: { allowAdminApi: true }, after: { allowAdminApi: false } },
    });
    expect((await cli(['clients', 'show', created.client_id])).stdout).toMatch(/\nallow_admin_api: false\n/);
  });
});

describe('apis --privileged', () => {
  it('registers a privileged API, shows it, and changes it back', async () => {
    const api = 'https://payroll.cli.example.test';
    const created = await cliJson<{ privileged: boolean }>([
      'apis',
      'create',
      '--identifier',
      api,
      '--name',
      'Payroll',
      '--scope',
      'pay:read',
      '--privileged',
    ]);
    expect(created.privileged).toBe(true);
    expect((await cli(['apis', 'list'])).stdout).toContain(`${api}  database  privileged  pay:read`);
    expect((await cliJson<{ privileged: boolean }>(['apis', 'update', api, '--no-privileged'])).privileged).toBe(false);
    expect(await cli(['apis', 'update', api, '--privileged', '--no-privileged'])).toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/give either --privileged or --no-privileged/),
    });
  });

  it('lists the built-in admin API as privileged', async () => {
    const listed = await cliJson<Array<{ source: string; privileged: boolean }>>(['apis', 'list']);
    expect(listed.find((api) => api.source === 'builtin')).toMatchObject({ privileged: true });
  });
});
