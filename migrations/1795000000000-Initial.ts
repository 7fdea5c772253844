import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Core schema: oidc-provider models, accounts and roles, clients, signing keys, the audit chain. */
export class Initial1795000000000 implements MigrationInterface {
  name = 'Initial1795000000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE oidc_model_instances (
        model       text        NOT NULL,
        id          text        NOT NULL,
        payload     jsonb       NOT NULL,
        grant_id    text,
        uid         text,
        user_code   text,
        expires_at  timestamptz,
        consumed_at timestamptz,
        PRIMARY KEY (model, id)
      )`);
    await db.query(`CREATE INDEX oidc_model_instances_grant_id ON oidc_model_instances (grant_id) WHERE grant_id IS NOT NULL`);
    await db.query(`CREATE INDEX oidc_model_instances_uid ON oidc_model_instances (model, uid) WHERE uid IS NOT NULL`);
    await db.query(`CREATE INDEX oidc_model_instances_user_code ON oidc_model_instances (model, user_code) WHERE user_code IS NOT NULL`);
    await db.query(`CREATE INDEX oidc_model_instances_expires_at ON oidc_model_instances (expires_at) WHERE expires_at IS NOT NULL`);

    await db.query(`
      CREATE TABLE accounts (
        id             uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
        email          text        NOT NULL,
        email_verified boolean     NOT NULL DEFAULT false,
        password_hash  text,
        name           text,
        disabled_at    timestamptz,
        created_at     timestamptz NOT NULL DEFAULT now(),
        updated_at     timestamptz NOT NULL DEFAULT now()
      )`);
    await db.query(`CREATE UNIQUE INDEX accounts_email_key ON accounts (lower(email))`);

    await db.query(`
      CREATE TABLE roles (
        id          uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
        name        text        NOT NULL UNIQUE,
        description text,
        created_at  timestamptz NOT NULL DEFAULT now()
      )`);
    await db.query(`
      CREATE TABLE account_roles (
        account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
        role_id    uuid NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
        PRIMARY KEY (account_id, role_id)
      )`);
    await db.query(`CREATE INDEX account_roles_role_id ON account_roles (role_id)`);

    await db.query(`
      CREATE TABLE clients (
        client_id                 text        PRIMARY KEY,
        name                      text        NOT NULL,
        type                      text        NOT NULL CHECK (type IN ('web', 'spa', 'native', 'service')),
        secret_encrypted          text,
        redirect_uris             text[]      NOT NULL DEFAULT '{}',
        post_logout_redirect_uris text[]      NOT NULL DEFAULT '{}',
        first_party               boolean     NOT NULL DEFAULT false,
        created_at                timestamptz NOT NULL DEFAULT now(),
        updated_at                timestamptz NOT NULL DEFAULT now()
      )`);

    await db.query(`
      CREATE TABLE signing_keys (
        kid                   text        PRIMARY KEY,
        alg                   text        NOT NULL,
        public_jwk            jsonb       NOT NULL,
        private_jwk_encrypted text        NOT NULL,
        created_at            timestamptz NOT NULL DEFAULT now(),
        activates_at          timestamptz NOT NULL,
        retired_at            timestamptz,
        expires_at            timestamptz
      )`);

    await db.query(`
      CREATE TABLE audit_events (
        id          bigserial   PRIMARY KEY,
        occurred_at timestamptz NOT NULL,
        type        text        NOT NULL,
        actor       text,
        account_id  uuid,
        client_id   text,
        ip          text,
        user_agent  text,
        details     jsonb       NOT NULL DEFAULT '{}',
        prev_hash   text        NOT NULL,
        hash        text        NOT NULL UNIQUE
      )`);
    await db.query(`CREATE INDEX audit_events_account_id ON audit_events (account_id, id) WHERE account_id IS NOT NULL`);
    await db.query(`CREATE INDEX audit_events_occurred_at ON audit_events (occurred_at)`);
    await db.query(`
      CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
      END $$`);
    await db.query(`CREATE TRIGGER audit_events_no_update_delete BEFORE UPDATE OR DELETE ON audit_events FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()`);
    await db.query(`CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()`);
  }

  async down(db: QueryRunner): Promise<void> {
    for (const table of ['audit_events', 'signing_keys', 'clients', 'account_roles', 'roles', 'accounts', 'oidc_model_instances']) {
      await db.query(`DROP TABLE IF EXISTS ${table}`);
    }
    await db.query(`DROP FUNCTION IF EXISTS audit_events_append_only()`);
  }
}
