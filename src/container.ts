import { migrations } from '../migrations/index.js';
import { createAccountService } from './accounts/account-service.js';
import { createPasswordHasher } from './accounts/password-hasher.js';
import { auditRepositoryFor } from './audit/audit-repository.js';
import { createAuditService } from './audit/audit-service.js';
import { createClientService } from './clients/client-service.js';
import type { ResolvedConfig } from './config/schema.js';
import { openDataSource, runMigrations, type DataSource } from './infra/data-source.js';
import { startEmbeddedPostgres, type EmbeddedDatabase } from './infra/embedded-postgres.js';
import type { Logger } from './infra/logger.js';
import { createRedis, type RedisClient } from './infra/redis.js';
import { createSecretBox } from './infra/secret-box.js';
import { createDatabase } from './infra/unit-of-work.js';
import { createKeyService } from './keys/key-service.js';
import { entities, repositoriesFor } from './repositories.js';

export interface ContainerOptions {
  /** Apply pending migrations (development start, tests, `portcullis migrate`). */
  migrate: boolean;
  /** Connect to Redis (the CLI doesn't need it). */
  redis?: boolean;
}

/** The longest lifetime of anything we sign, so a retired key outlives its tokens. */
function maxSignedTtl(config: ResolvedConfig): number {
  return Math.max(config.ttl.idToken, config.ttl.accessToken, config.ttl.clientCredentials, ...config.apis.map((api) => api.accessTokenTtl));
}

/** Composition root: connections, repositories and services, closed in reverse order. */
export async function createContainer(config: ResolvedConfig, logger: Logger, options: ContainerOptions) {
  let embedded: EmbeddedDatabase | undefined;
  let url = config.databaseUrl;
  if (!url) {
    embedded = await startEmbeddedPostgres(config.dataDir, config.database.embeddedPort, logger);
    url = embedded.url;
  }
  const dataSource: DataSource = await openDataSource({ url, poolSize: config.database.poolSize, entities, migrations });
  if (options.migrate) {
    const applied = await runMigrations(dataSource);
    if (applied.length) logger.info({ migrations: applied }, 'migrations applied');
  } else if (await dataSource.showMigrations()) {
    await dataSource.destroy();
    await embedded?.stop();
    throw new Error('the database has pending migrations: run `npx portcullis migrate` first');
  }
  const redis: RedisClient | undefined = options.redis !== false && config.redisUrl
    ? createRedis(config.redisUrl, { keyPrefix: config.redis.keyPrefix })
    : undefined;

  const db = createDatabase(dataSource, repositoriesFor);
  const secretBox = createSecretBox(config.secrets.encryptionKey);
  const hasher = createPasswordHasher(config.argon2);
  const audit = createAuditService({ repositoryFor: auditRepositoryFor(dataSource.manager) });
  const accounts = createAccountService({ db, hasher });
  const clients = createClientService({ db, secretBox });
  const keys = createKeyService({
    db, secretBox, algorithm: config.keys.algorithm, publishLeadSeconds: config.keys.publishLeadSeconds, maxTokenTtlSeconds: maxSignedTtl(config),
  });

  return {
    config, logger, dataSource, redis, db, secretBox, hasher, audit, accounts, clients, keys,
    async close(): Promise<void> {
      if (redis) await redis.quit().catch(() => redis.disconnect());
      await dataSource.destroy();
      await embedded?.stop();
    },
  };
}

export type Container = Awaited<ReturnType<typeof createContainer>>;
