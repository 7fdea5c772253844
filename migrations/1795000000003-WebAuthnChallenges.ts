import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Pending WebAuthn ceremony challenges, for deployments without Redis. Each row is single-use
 * (consumed with DELETE … RETURNING) and lives five minutes; expired rows are swept on insert.
 */
export class WebAuthnChallenges1795000000003 implements MigrationInterface {
  name = 'WebAuthnChallenges1795000000003';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE webauthn_challenges (
        handle     text        PRIMARY KEY,
        challenge  text        NOT NULL,
        purpose    text        NOT NULL CHECK (purpose IN ('registration', 'authentication')),
        account_id uuid        REFERENCES accounts (id) ON DELETE CASCADE,
        expires_at timestamptz NOT NULL
      )`);
    await db.query(`CREATE INDEX webauthn_challenges_expires_at ON webauthn_challenges (expires_at)`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE IF EXISTS webauthn_challenges`);
  }
}
