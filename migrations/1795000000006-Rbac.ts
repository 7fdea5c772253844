import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Role-based access control: a role's permissions on a registered API (resource indicator,
 * RFC 8707), and roles held by service clients (client credentials, RFC 6749 §4.4).
 */
export class Rbac1795000000006 implements MigrationInterface {
  name = 'Rbac1795000000006';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE role_permissions (
        role_id    uuid NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
        api        text NOT NULL,
        permission text NOT NULL,
        PRIMARY KEY (role_id, api, permission)
      )`);
    await db.query(`
      CREATE TABLE client_roles (
        client_id text NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
        role_id   uuid NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
        PRIMARY KEY (client_id, role_id)
      )`);
    await db.query(`CREATE INDEX client_roles_role_id ON client_roles (role_id)`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE IF EXISTS client_roles`);
    await db.query(`DROP TABLE IF EXISTS role_permissions`);
  }
}
