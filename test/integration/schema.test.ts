import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
      ['accounts', 'account_roles', 'api_keys', 'account_tokens', 'audit_events', 'clients', 'client_roles', 'mfa_factors', 'oidc_model_instances', 'outbox_messages', 'otp_challenges', 'rate_limits', 'recovery_codes', 'role_permissions', 'roles', 'schema_migrations', 'session_metadata', 'signing_keys', 'webauthn_challenges']));
    const migrations = await client.query(`SELECT name FROM schema_migrations ORDER BY id`);
    expect(migrations.rows.map((r) => r.name)).toEqual(['Initial1795000000000', 'HostedAccounts1795000000001', 'MultiFactor1795000000002', 'WebAuthnChallenges1795000000003', 'SessionMetadata1795000000004', 'ClientTokenSettings1795000000005', 'Rbac1795000000006', 'ApiKeys1795000000007', 'Apis1795000000008', 'AuditQueryIndexes1795000000009', 'ClientClaimSettings1795000000010', 'Outbox1795000000013']);
  });
});
