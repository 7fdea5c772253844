import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Per-client claim settings: the scopes a client may request (NULL: any) and the claims its ID
 * tokens carry besides userinfo (NULL: the default, `roles` for the roles scope).
 */
export class ClientClaimSettings1795000000010 implements MigrationInterface {
  name = 'ClientClaimSettings1795000000010';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      ALTER TABLE clients
        ADD COLUMN allowed_scopes text[],
        ADD COLUMN id_token_claims text[]`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query('ALTER TABLE clients DROP COLUMN allowed_scopes, DROP COLUMN id_token_claims');
  }
}
