import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { migrations } from '../migrations/index.js';
import { seedAccounts } from '../src/cli/seed-commands.js';
import { loadConfig } from '../src/config/load-config.js';
import { resolveSecrets } from '../src/config/resolve-secrets.js';
import type { Config } from '../src/config/schema.js';
import { createContainer } from '../src/container.js';
import { migrateAsOwner } from '../src/infra/database-urls.js';
import { createLogger } from '../src/infra/logger.js';
import { dropLogin, ensureServiceLogin } from '../src/infra/service-login.js';
import type { AccountPool } from './loader.js';
import type { WebClient } from './flows.js';
import { benchDir, projectRoot } from './processes.js';

/** The settings layered over config/production.yaml (see README "Performance"). */
export const benchConfigFile = path.join(benchDir, 'portcullis-bench.yaml');
export const benchApi = 'https://api.bench.example';

/** A database URL naming another database on the same server. */
export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

/** Drops and creates the bench database: every run starts from an empty schema. */
export async function recreateDatabase(adminUrl: string, name: string): Promise<string> {
  // At most 55 characters: the service login is named after it (serviceRoleFor) and identifiers end at 63.
  if (!/^[a-z_][a-z0-9_]{0,54}$/.test(name)) {
    throw new Error(`BENCH_DATABASE must be a plain lower-case identifier of at most 55 characters: ${name}`);
  }
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  return withDatabase(adminUrl, name);
}

export async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}

/** Applies the migrations as the schema owner, as `portcullis migrate` does before a production start. */
export async function migrateDatabase(ownerUrl: string): Promise<void> {
  await migrateAsOwner(ownerUrl, migrations);
}

/**
 * The login the servers run as (README "Database roles"). Roles are cluster-wide, so it is named after
 * the run's database: a smoke run beside a full bench, each in its own database, keeps its own password.
 */
export function serviceRoleFor(database: string): string {
  return `${database}_service`;
}

/** The service login for this run's database, with a fresh password (src/infra/service-login.ts). */
export function createServiceLogin(ownerUrl: string, role: string): Promise<string> {
  return ensureServiceLogin(ownerUrl, role, randomBytes(18).toString('base64url'));
}

/** Removes the service login once its database is gone (it owns nothing and holds no grants of its own). */
export function dropServiceLogin(adminUrl: string, role: string): Promise<void> {
  return dropLogin(adminUrl, role);
}

/** Deletes the keys of this run's prefix (never anyone else's). */
export async function clearRedisPrefix(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      if (keys.length) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

/** Secrets and settings for one run; the server processes get them as environment variables. */
export function serverEnvironment(options: {
  databaseUrl: string; migrationUrl: string; redisUrl?: string; redisPrefix: string; dataDir: string; logLevel: string;
}): Record<string, string> {
  return {
    NODE_ENV: 'production',
    PORTCULLIS_CONFIG: benchConfigFile,
    // As production deploys: the service as a member of portcullis_app, migrations as the owner.
    DATABASE_URL: options.databaseUrl,
    DATABASE_MIGRATION_URL: options.migrationUrl,
    ...(options.redisUrl ? { REDIS_URL: options.redisUrl, REDIS_KEY_PREFIX: options.redisPrefix } : {}),
    PORTCULLIS_COOKIE_KEYS: randomBytes(32).toString('base64url'),
    PORTCULLIS_ENCRYPTION_KEY: randomBytes(32).toString('base64url'),
    // Production refuses to start without SMTP. No bench flow sends mail (no lockout, no password
    // change), so nothing ever connects to this closed loopback port.
    SMTP_URL: 'smtp://127.0.0.1:9',
    // The loader plays the TLS-terminating proxy: X-Forwarded-Proto: https and each visitor's address.
    TRUSTED_PROXIES: '127.0.0.1',
    DATA_DIR: options.dataDir,
    LOG_LEVEL: options.logLevel,
  };
}

export interface Seeded {
  config: Config;
  service: { clientId: string; secret: string };
  web: WebClient;
  accounts: AccountPool;
}

/**
 * Registers, as the service login, what the scenarios use in the migrated database: a service
 * client, a first-party web client (no consent screen) and `accountCount` verified accounts sharing
 * one password, plus `fillerAccounts` more that never sign in (BENCH_FILLER_ACCOUNTS), so sign-in can
 * be compared at 1k and at 1M rows. The hash is computed once at the configured argon2 parameters
 * and stored for each, so seeding thousands of accounts takes seconds and every sign-in still
 * verifies a full-cost hash.
 */
export async function seed(env: Record<string, string>, accountCount: number, fillerAccounts = Number(process.env.BENCH_FILLER_ACCOUNTS ?? 0)): Promise<Seeded> {
  const config = resolveSecrets(loadConfig({ env: { ...env, ISSUER: 'https://127.0.0.1' } }), () => {});
  const container = await createContainer(config, createLogger('silent'), { migrate: false, redis: false });
  try {
    await container.keys.ensureSigningKey();
    const service = await container.clients.create({ name: 'Bench service', type: 'service' }, 'bench');
    const redirectUri = 'http://127.0.0.1:9/callback';
    const web = await container.clients.create({ name: 'Bench web app', type: 'web', redirectUris: [redirectUri], firstParty: true }, 'bench');
    const password = `bench ${randomBytes(12).toString('base64url')} lanterns`;
    const passwordHash = await container.hasher.hash(password);
    const emailPattern = 'bench-{n}@bench.example';
    // Straight through the repository: `users import` wants m,t,p in that order, argon2 writes m,p,t.
    for (let start = 0; start < accountCount; start += 500) {
      await container.db.transaction(async (repos) => {
        for (let n = start; n < Math.min(start + 500, accountCount); n++) {
          await repos.accounts.insert({ email: emailPattern.replace('{n}', String(n)), emailVerified: true, passwordHash, name: `Bench ${n}` });
        }
      });
    }
    // The seed command's bulk insert: one statement per batch, the same hash for every row.
    if (fillerAccounts > 0) await seedAccounts(container.dataSource, { count: fillerAccounts, domain: 'filler.bench.example', passwordHash });
    return {
      config,
      service: { clientId: service.client.clientId, secret: service.secret! },
      web: { clientId: web.client.clientId, secret: web.secret!, redirectUri },
      accounts: { emailPattern, count: accountCount, password },
    };
  } finally {
    await container.close();
  }
}

export interface Machine { cpu: string; cores: number; memoryGiB: number; node: string; os: string; date: string; commit: string }

/** The commit checked out, read from .git without running git. */
function currentCommit(): string {
  try {
    const gitDir = path.join(projectRoot, '.git');
    const head = readFileSync(path.join(gitDir, 'HEAD'), 'utf8').trim();
    if (!head.startsWith('ref: ')) return head.slice(0, 12);
    const ref = head.slice(5);
    const loose = path.join(gitDir, ref);
    if (existsSync(loose)) return `${readFileSync(loose, 'utf8').trim().slice(0, 12)} (${ref.replace('refs/heads/', '')})`;
    const packed = readFileSync(path.join(gitDir, 'packed-refs'), 'utf8').split('\n').find((line) => line.endsWith(` ${ref}`));
    return packed ? `${packed.slice(0, 12)} (${ref.replace('refs/heads/', '')})` : 'unknown';
  } catch {
    return 'unknown';
  }
}

export function machineInfo(): Machine {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown', cores: os.availableParallelism(), memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version, os: `${os.type()} ${os.release()}`, date: new Date().toISOString(), commit: currentCommit(),
  };
}
