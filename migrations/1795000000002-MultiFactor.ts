import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Second factors (TOTP, WebAuthn, email and SMS codes), recovery codes, MFA policy columns. */
export class MultiFactor1795000000002 implements MigrationInterface {
  name = 'MultiFactor1795000000002';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE accounts ADD COLUMN mfa_required boolean NOT NULL DEFAULT false`);
    // Bumped to void every "trust this device" cookie at once (they carry the epoch they were issued in).
    await db.query(`ALTER TABLE accounts ADD COLUMN trusted_device_epoch integer NOT NULL DEFAULT 0`);
    await db.query(`ALTER TABLE clients ADD COLUMN require_mfa boolean NOT NULL DEFAULT false`);

    await db.query(`
      CREATE TABLE mfa_factors (
        id               uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
        account_id       uuid        NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
        type             text        NOT NULL CHECK (type IN ('totp', 'webauthn', 'email', 'sms')),
        name             text        NOT NULL,
        secret_encrypted text,
        last_used_step   bigint,
        credential_id    text        UNIQUE,
        public_key       bytea,
        sign_count       bigint,
        transports       text[],
        device_type      text,
        backed_up        boolean,
        phone            text,
        confirmed_at     timestamptz,
        created_at       timestamptz NOT NULL DEFAULT now(),
        last_used_at     timestamptz
      )`);
    await db.query(`CREATE INDEX mfa_factors_account_id ON mfa_factors (account_id)`);

    await db.query(`
      CREATE TABLE recovery_codes (
        id         uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
        account_id uuid        NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
        code_hash  text        NOT NULL,
        used_at    timestamptz,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await db.query(`CREATE INDEX recovery_codes_account_id ON recovery_codes (account_id)`);

    // Email and SMS one-time codes: hashed, short-lived, attempt-limited.
    await db.query(`
      CREATE TABLE otp_challenges (
        id          uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
        account_id  uuid        NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
        factor_id   uuid        NOT NULL REFERENCES mfa_factors (id) ON DELETE CASCADE,
        code_hash   text        NOT NULL,
        attempts    integer     NOT NULL DEFAULT 0,
        expires_at  timestamptz NOT NULL,
        consumed_at timestamptz,
        created_at  timestamptz NOT NULL DEFAULT now()
      )`);
    await db.query(`CREATE INDEX otp_challenges_factor ON otp_challenges (factor_id, created_at)`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE IF EXISTS otp_challenges`);
    await db.query(`DROP TABLE IF EXISTS recovery_codes`);
    await db.query(`DROP TABLE IF EXISTS mfa_factors`);
    await db.query(`ALTER TABLE clients DROP COLUMN IF EXISTS require_mfa`);
    await db.query(`ALTER TABLE accounts DROP COLUMN IF EXISTS trusted_device_epoch`);
    await db.query(`ALTER TABLE accounts DROP COLUMN IF EXISTS mfa_required`);
  }
}
