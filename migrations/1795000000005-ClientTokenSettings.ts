import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Per-client protocol settings: back-channel logout (OIDC Back-Channel Logout 1.0 §2.2),
 * token lifetimes overriding the global ttl section, and sender-constraint / PAR requirements
 * (RFC 9449 §5.2, RFC 9126 §6), and the device authorization grant (RFC 8628).
 */
export class ClientTokenSettings1795000000005 implements MigrationInterface {
  name = 'ClientTokenSettings1795000000005';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      ALTER TABLE clients
        ADD COLUMN backchannel_logout_uri text,
        ADD COLUMN backchannel_logout_session_required boolean NOT NULL DEFAULT true,
        ADD COLUMN access_token_ttl integer CHECK (access_token_ttl > 0),
        ADD COLUMN id_token_ttl integer CHECK (id_token_ttl > 0),
        ADD COLUMN refresh_token_ttl integer CHECK (refresh_token_ttl > 0),
        ADD COLUMN refresh_token_idle_ttl integer CHECK (refresh_token_idle_ttl > 0),
        ADD COLUMN refresh_token_grace_seconds integer NOT NULL DEFAULT 0 CHECK (refresh_token_grace_seconds BETWEEN 0 AND 30),
        ADD COLUMN session_idle_ttl integer CHECK (session_idle_ttl > 0),
        ADD COLUMN session_max_age integer CHECK (session_max_age > 0),
        ADD COLUMN require_dpop boolean NOT NULL DEFAULT false,
        ADD COLUMN require_par boolean NOT NULL DEFAULT false,
        ADD COLUMN device_flow boolean NOT NULL DEFAULT false`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`
      ALTER TABLE clients
        DROP COLUMN backchannel_logout_uri, DROP COLUMN backchannel_logout_session_required,
        DROP COLUMN access_token_ttl, DROP COLUMN id_token_ttl, DROP COLUMN refresh_token_ttl,
        DROP COLUMN refresh_token_idle_ttl, DROP COLUMN refresh_token_grace_seconds, DROP COLUMN session_idle_ttl, DROP COLUMN session_max_age,
        DROP COLUMN require_dpop, DROP COLUMN require_par, DROP COLUMN device_flow`);
  }
}
