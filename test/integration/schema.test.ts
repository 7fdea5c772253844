import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrations as allMigrations } from '../../migrations/index.js';
import { createTestDatabase } from '../helpers/test-database.js';

describe('migrated schema', () => {
  let client: pg.Client;
  beforeAll(async () => {
    client = new pg.Client({ connectionString: (await createTestDatabase()).url });
    await client.connect();
  });
  afterAll(() => client.end());

  it('has every core table and records the migration', async () => {
    const { rows } = await client.query<{ table_name: string }>(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1`);
    expect(rows.map((r) => r.table_name)).toEqual(expect.arrayContaining(
      ['accounts', 'account_roles', 'api_keys', 'account_tokens', 'audit_events', 'clients', 'client_roles', 'mfa_factors', 'oidc_model_instances', 'otp_challenges', 'rate_limits', 'recovery_codes', 'role_permissions', 'roles', 'schema_migrations', 'session_metadata', 'signing_keys', 'webauthn_challenges']));
    const migrations = await client.query(`SELECT name FROM schema_migrations ORDER BY id`);
    // Every listed migration, in order (derived from migrations/index.ts so adding one edits no list here).
    expect(migrations.rows.map((r) => r.name)).toEqual(allMigrations.map((migration) => migration.name));
    expect(migrations.rows[0]?.name).toBe('Initial1795000000000');
  });
});
