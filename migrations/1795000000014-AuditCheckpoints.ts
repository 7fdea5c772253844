import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The group role the service's login role belongs to; README "Database roles" has the SQL. */
export const APP_ROLE = 'portcullis_app';

/**
 * Signed audit checkpoints, and the runtime role's privileges.
 *
 * `audit_checkpoints` anchors the hash chain: each row is a JWS (signed with a key that is not in
 * the database) over the chain's last id, last hash and length, so deleting the newest events —
 * which the table owner can do after disabling the triggers — is reported by `audit verify`.
 *
 * `portcullis_app` (NOLOGIN) gets normal DML on every table, but only SELECT and INSERT on the audit
 * tables and only SELECT on schema_migrations; the service logs in as a member of it. It is created
 * here when the migrating role may create roles; otherwise the operator creates it (a notice says
 * so) and runs the grants below by hand. Default privileges cover tables later migrations create.
 */
export class AuditCheckpoints1795000000014 implements MigrationInterface {
  name = 'AuditCheckpoints1795000000014';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE audit_checkpoints (
        id            bigserial   PRIMARY KEY,
        created_at    timestamptz NOT NULL DEFAULT now(),
        last_event_id bigint      NOT NULL,
        last_hash     text        NOT NULL,
        event_count   bigint      NOT NULL,
        kid           text        NOT NULL,
        jws           text        NOT NULL
      )`);
    await db.query(`
      CREATE FUNCTION audit_checkpoints_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'audit_checkpoints is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
      END $$`);
    await db.query(`CREATE TRIGGER audit_checkpoints_no_update_delete BEFORE UPDATE OR DELETE ON audit_checkpoints
      FOR EACH ROW EXECUTE FUNCTION audit_checkpoints_append_only()`);
    await db.query(`CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints
      FOR EACH STATEMENT EXECUTE FUNCTION audit_checkpoints_append_only()`);

    // Roles are cluster-wide: another database (or a concurrent migration) may have made it already.
    await db.query(`
      DO $$
      BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${APP_ROLE}') THEN
          BEGIN
            CREATE ROLE ${APP_ROLE} NOLOGIN;
          EXCEPTION
            WHEN duplicate_object OR unique_violation THEN NULL;
            WHEN insufficient_privilege THEN
              RAISE NOTICE 'cannot create role ${APP_ROLE}: create it, grant it to the service login '
                'and run these grants (README "Database roles")';
          END;
        END IF;
      END $$`);
    await db.query(`
      DO $$
      DECLARE schema_name text := current_schema();
      BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${APP_ROLE}') THEN RETURN; END IF;
        EXECUTE format('GRANT USAGE ON SCHEMA %I TO ${APP_ROLE}', schema_name);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO ${APP_ROLE}', schema_name);
        EXECUTE format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA %I TO ${APP_ROLE}', schema_name);
        EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I '
          'GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO ${APP_ROLE}', schema_name);
        EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I '
          'GRANT USAGE, SELECT ON SEQUENCES TO ${APP_ROLE}', schema_name);
        REVOKE UPDATE, DELETE, TRUNCATE ON audit_events, audit_checkpoints FROM ${APP_ROLE};
        REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON schema_migrations FROM ${APP_ROLE};
      END $$`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE IF EXISTS audit_checkpoints`);
    await db.query(`DROP FUNCTION IF EXISTS audit_checkpoints_append_only()`);
    await db.query(`
      DO $$
      DECLARE schema_name text := current_schema();
      BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${APP_ROLE}') THEN RETURN; END IF;
        EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I REVOKE ALL ON TABLES FROM ${APP_ROLE}', schema_name);
        EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I REVOKE ALL ON SEQUENCES FROM ${APP_ROLE}', schema_name);
        EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA %I FROM ${APP_ROLE}', schema_name);
        EXECUTE format('REVOKE ALL ON ALL SEQUENCES IN SCHEMA %I FROM ${APP_ROLE}', schema_name);
      END $$`);
  }
}
