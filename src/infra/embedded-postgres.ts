import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from './atomic-file.js';
import type { Logger } from './logger.js';
import { ensureServiceLogin } from './service-login.js';
import {
  clusterDirectory, initialiseCluster, isAlive, postgresAccount, reachableBinaries, runningPostmaster, startPostmaster,
  stopPostmaster,
} from './postgres-process.js';

/** `url`: the service's login (a member of portcullis_app); `migrationUrl`: the owner (the cluster superuser). */
export interface EmbeddedDatabase { url: string; migrationUrl: string; stop(): Promise<void> }

/** The embedded service login: may do what portcullis_app may, nothing more. */
export const EMBEDDED_SERVICE_ROLE = 'portcullis_service';

function passwordFor(dataDir: string, name = 'postgres-password'): string {
  const file = path.join(dataDir, name);
  if (!existsSync(file)) writeFileAtomic(file, randomBytes(24).toString('base64url'));
  const password = readFileSync(file, 'utf8').trim();
  if (!password) {
    throw new Error(`${file} is empty: restore it from a backup, or delete it together with ${dataDir}/postgres`
      + ' to start afresh');
  }
  return password;
}

/** The pid of the Portcullis process that started the postmaster, recorded beside DATA_DIR's other state. */
function ownerFile(dataDir: string): string {
  return path.join(dataDir, 'embedded-postgres.owner');
}

function ownerAlive(dataDir: string): boolean {
  try {
    const pid = Number(readFileSync(ownerFile(dataDir), 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid);
  } catch {
    return false;
  }
}

/**
 * Starts (or joins) a real PostgreSQL under dataDir for a zero-configuration start.
 * Single node only: the server and the CLI share it through its postmaster.pid. A postmaster
 * whose starter died (`kill -9`) is stopped and started again, so this process owns it and a
 * clean shutdown stops it. As root it runs as the `postgres` account, from places that account
 * can reach (see postgres-process.ts).
 */
export async function startEmbeddedPostgres(dataDir: string, port: number, logger: Logger): Promise<EmbeddedDatabase> {
  mkdirSync(dataDir, { recursive: true });
  const account = postgresAccount();
  const pgDir = clusterDirectory(dataDir, account);
  if (pgDir !== path.join(dataDir, 'postgres')) {
    logger.warn({ dir: pgDir, dataDir },
      'the postgres system user cannot reach DATA_DIR: the embedded database lives here instead');
  }
  const password = passwordFor(dataDir);
  const servicePassword = passwordFor(dataDir, 'postgres-service-password');
  const urlFor = (p: number) => `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${p}/postgres`;
  const urls = async (p: number) => ({
    url: await ensureServiceLogin(urlFor(p), EMBEDDED_SERVICE_ROLE, servicePassword), migrationUrl: urlFor(p),
  });

  const existing = runningPostmaster(pgDir);
  if (existing && ownerAlive(dataDir)) return { ...(await urls(existing.port)), stop: async () => {} };
  if (existing) {
    logger.warn({ pid: existing.pid },
      'restarting an embedded PostgreSQL left running by a process that ended without stopping it');
    await stopPostmaster(existing.pid);
  }

  const binaries = await reachableBinaries(account);
  if (!existsSync(path.join(pgDir, 'PG_VERSION'))) {
    logger.info({ dir: pgDir }, 'initialising embedded PostgreSQL');
    await initialiseCluster(binaries, pgDir, password, account);
  }
  const { pid } = await startPostmaster(binaries, pgDir, port, account, path.join(dataDir, 'postgres.log'));
  writeFileAtomic(ownerFile(dataDir), String(process.pid));
  logger.warn({ dir: pgDir, port },
    'running on the embedded PostgreSQL: single node, for development only; set DATABASE_URL for production');
  const stop = async () => {
    await stopPostmaster(pid);
    rmSync(ownerFile(dataDir), { force: true });
  };
  try {
    return { ...(await urls(port)), stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
