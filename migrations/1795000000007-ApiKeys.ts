import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * API keys (`pcl_<id>_<secret>`): owned by a service client or by an account; only the SHA-256
 * digest of the secret is stored, and keys are looked up by their public id.
 */
export class ApiKeys1795000000007 implements MigrationInterface {
  name = 'ApiKeys1795000000007';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE api_keys (
        id text PRIMARY KEY,
        owner_type text NOT NULL CHECK (owner_type IN ('service', 'account')),
        client_id text REFERENCES clients (client_id) ON DELETE CASCADE,
        account_id uuid REFERENCES accounts (id) ON DELETE CASCADE,
        name text NOT NULL,
        secret_digest text NOT NULL CHECK (secret_digest ~ '^[0-9a-f]{64}$'),
        scopes text[] NOT NULL DEFAULT '{}',
        api text,
        expires_at timestamptz,
        last_used_at timestamptz,
        last_used_ip text,
        revoked_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        created_by text NOT NULL,
        CHECK ((owner_type = 'service' AND client_id IS NOT NULL AND account_id IS NULL)
            OR (owner_type = 'account' AND account_id IS NOT NULL AND client_id IS NULL))
      )`);
    await db.query(`CREATE INDEX api_keys_client_id_idx ON api_keys (client_id) WHERE client_id IS NOT NULL`);
    await db.query(`CREATE INDEX api_keys_account_id_idx ON api_keys (account_id) WHERE account_id IS NOT NULL`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE api_keys`);
  }
}
