import type { ResolvedConfig } from '../config/schema.js';
import { openDataSource, runMigrations } from './data-source.js';
import { startEmbeddedPostgres, type EmbeddedDatabase } from './embedded-postgres.js';
import type { Logger } from './logger.js';

/** The service's connection, the owner's (for migrations only), and the embedded PostgreSQL if one was started. */
export interface DatabaseUrls { url: string; migrationUrl: string; embedded?: EmbeddedDatabase }

/**
 * `databaseUrl` is the service's role and `database.migrationUrl` the schema owner's; with only the
 * first, one role does both (as before). Without either, the embedded PostgreSQL sets up both roles.
 */
export async function resolveDatabaseUrls(config: ResolvedConfig, logger: Logger): Promise<DatabaseUrls> {
  if (config.databaseUrl) {
    return { url: config.databaseUrl, migrationUrl: config.database.migrationUrl ?? config.databaseUrl };
  }
  const embedded = await startEmbeddedPostgres(config.dataDir, config.database.embeddedPort, logger);
  return { url: embedded.url, migrationUrl: embedded.migrationUrl, embedded };
}

/** Applies pending migrations as the owner, on a connection of its own; returns the names applied. */
// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
export async function migrateAsOwner(migrationUrl: string, migrations: Function[]): Promise<string[]> {
  const dataSource = await openDataSource({ url: migrationUrl, poolSize: 1, entities: [], migrations });
  try {
    return await runMigrations(dataSource);
  } finally {
    await dataSource.destroy();
  }
}
