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
    expect(rows.map((r) => r.table_name)).toEqual(
      expect.arrayContaining([
        'accounts',
        'account_roles',
        'api_keys',
        'account_tokens',
        'audit_checkpoints',
        'audit_events',
        'clients',
        'client_roles',
        'lockout_records',
        'mfa_factors',
        'oidc_model_instances',
        'outbox_messages',
        'otp_challenges',
        'rate_limits',
        'recovery_codes',
        'role_permissions',
        'roles',
        'schema_migrations',
        'session_metadata',
        'signing_keys',
        'webauthn_challenges',
      ]),
    );
    const migrations = await client.query(`SELECT name FROM schema_migrations ORDER BY id`);
    // Applied in timestamp order, each exactly once.
    const migrationNames = allMigrations
      .map((migration) => migration.name)
      .sort((a, b) => a.slice(-13).localeCompare(b.slice(-13)));
    expect(migrations.rows.map((r) => r.name)).toEqual(migrationNames);
  });
});
