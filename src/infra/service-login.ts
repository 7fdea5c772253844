import pg from 'pg';
import { APP_ROLE } from '../../migrations/1795000000014-AuditCheckpoints.js';

/**
 * Makes `role` the service's login: created when missing, given `password` and no other right, and a
 * member of portcullis_app (created here too when the migration has not run yet; it grants the
 * group its privileges, INSERT and SELECT only on the audit tables). Idempotent and safe against a
 * concurrent run (the server and a CLI command may both start). Returns `ownerUrl` with the login's
 * credentials: the URL the service connects with (README "Database roles").
 */
export async function ensureServiceLogin(ownerUrl: string, role: string, password: string): Promise<string> {
  const client = new pg.Client({ connectionString: ownerUrl });
  await client.connect();
  try {
    await client.query(`
      DO $$
      BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${APP_ROLE}') THEN
          BEGIN CREATE ROLE ${APP_ROLE} NOLOGIN; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END;
        END IF;
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${role}') THEN
          BEGIN CREATE ROLE ${role} LOGIN; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END;
        END IF;
        ALTER ROLE ${role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD ${client.escapeLiteral(password)};
        GRANT ${APP_ROLE} TO ${role};
      END $$`);
  } finally {
    await client.end();
  }
  const url = new URL(ownerUrl);
  url.username = role;
  url.password = password;
  return url.toString();
}

/** Ends a login's connections and drops it (it owns nothing; its only grant is membership). */
export async function dropLogin(ownerUrl: string, role: string): Promise<void> {
  const client = new pg.Client({ connectionString: ownerUrl });
  await client.connect();
  try {
    await client.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1`, [role]);
    await client.query(`DROP ROLE IF EXISTS ${role}`);
  } finally {
    await client.end();
  }
}
