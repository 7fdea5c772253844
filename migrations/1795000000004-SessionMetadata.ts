import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * What the sessions page shows about each sign-in session that oidc-provider's Session payload
 * doesn't hold: the device (user agent), IP, when it started and when it was last used. Keyed by
 * the Session's uid, which stays the same while its id (the cookie value) is renewed at sign-in.
 */
export class SessionMetadata1795000000004 implements MigrationInterface {
  name = 'SessionMetadata1795000000004';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE session_metadata (
        session_uid    text        PRIMARY KEY,
        account_id     uuid        NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
        session_id     text,
        user_agent     text,
        ip             text,
        created_at     timestamptz NOT NULL,
        last_active_at timestamptz NOT NULL,
        expires_at     timestamptz NOT NULL
      )`);
    await db.query(`CREATE INDEX session_metadata_account_id ON session_metadata (account_id)`);
    await db.query(`CREATE INDEX session_metadata_expires_at ON session_metadata (expires_at)`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE IF EXISTS session_metadata`);
  }
}
