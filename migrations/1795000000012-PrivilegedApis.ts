import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Privileged APIs: an API flagged `privileged` gets tokens only for clients an operator allowed
 * (`clients.allow_admin_api`, also the admin API's rule) and, for people, only after a second factor.
 */
export class PrivilegedApis1795000000012 implements MigrationInterface {
  name = 'PrivilegedApis1795000000012';

  async up(db: QueryRunner): Promise<void> {
    await db.query('ALTER TABLE apis ADD COLUMN privileged boolean NOT NULL DEFAULT false');
    await db.query('ALTER TABLE clients ADD COLUMN allow_admin_api boolean NOT NULL DEFAULT false');
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query('ALTER TABLE clients DROP COLUMN allow_admin_api');
    await db.query('ALTER TABLE apis DROP COLUMN privileged');
  }
}
