import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Hosted accounts: single-use tokens, rate-limit counters, per-account session lookup. */
export class HostedAccounts1795000000001 implements MigrationInterface {
  name = 'HostedAccounts1795000000001';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE accounts ADD COLUMN password_changed_at timestamptz`);
    await db.query(`UPDATE accounts SET password_changed_at = created_at WHERE password_hash IS NOT NULL`);

    // Email verification, password reset, unlock and email-change links: only a SHA-256 of the token is kept.
    await db.query(`
      CREATE TABLE account_tokens (
        id          uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
        account_id  uuid        NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
        purpose     text        NOT NULL CHECK (purpose IN ('verify_email', 'reset_password', 'unlock', 'change_email')),
        token_hash  text        NOT NULL UNIQUE,
        email       text        NOT NULL,
        expires_at  timestamptz NOT NULL,
        used_at     timestamptz,
        created_at  timestamptz NOT NULL DEFAULT now()
      )`);
    await db.query(`CREATE INDEX account_tokens_account_purpose ON account_tokens (account_id, purpose)`);
    await db.query(`CREATE INDEX account_tokens_expires_at ON account_tokens (expires_at)`);

    // rate-limiter-flexible's PostgreSQL store, created here so the app never runs DDL at start-up.
    await db.query(`
      CREATE TABLE rate_limits (
        key    varchar(255) PRIMARY KEY,
        points integer      NOT NULL DEFAULT 0,
        expire bigint
      )`);
    await db.query(`CREATE INDEX rate_limits_expire ON rate_limits (expire)`);

    await db.query(`ALTER TABLE clients ADD COLUMN allow_unverified_email boolean NOT NULL DEFAULT false`);

    // Sessions and grants by account, so a reset or "sign out everywhere" finds them all.
    await db.query(`ALTER TABLE oidc_model_instances ADD COLUMN account_id text`);
    await db.query(`UPDATE oidc_model_instances SET account_id = payload->>'accountId' WHERE payload ? 'accountId'`);
    await db.query(`CREATE INDEX oidc_model_instances_account_id ON oidc_model_instances (account_id, model) WHERE account_id IS NOT NULL`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP INDEX IF EXISTS oidc_model_instances_account_id`);
    await db.query(`ALTER TABLE oidc_model_instances DROP COLUMN IF EXISTS account_id`);
    await db.query(`ALTER TABLE clients DROP COLUMN IF EXISTS allow_unverified_email`);
    await db.query(`DROP TABLE IF EXISTS rate_limits`);
    await db.query(`DROP TABLE IF EXISTS account_tokens`);
    await db.query(`ALTER TABLE accounts DROP COLUMN IF EXISTS password_changed_at`);
  }
}
