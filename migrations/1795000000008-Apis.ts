import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * APIs (resource indicators, RFC 8707) registered at run time by admins, beside those in config
 * `apis`. The identifier is what clients send as `resource` and what role permissions and API keys
 * name, so it never changes once registered. The lifetime cap (one day) matches
 * src/apis/api-schema.ts maxApiAccessTokenTtl: retired signing keys are kept that long.
 */
export class Apis1795000000008 implements MigrationInterface {
  name = 'Apis1795000000008';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE apis (
        id               uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
        identifier       text        NOT NULL UNIQUE CHECK (length(identifier) BETWEEN 1 AND 2000),
        name             text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
        scopes           text[]      NOT NULL DEFAULT '{}',
        access_token_ttl integer     NOT NULL DEFAULT 600 CHECK (access_token_ttl BETWEEN 1 AND 86400),
        rbac             boolean     NOT NULL DEFAULT false,
        created_by       text        NOT NULL,
        created_at       timestamptz NOT NULL DEFAULT now(),
        updated_at       timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE IF EXISTS apis`);
  }
}
