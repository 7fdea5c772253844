import 'reflect-metadata';
import pg from 'pg';
import { DataSource, type EntityManager, type EntitySchema, type MixedList } from 'typeorm';

export type { DataSource, EntityManager };

export interface DataSourceOptions {
  url: string;
  poolSize: number;
  /** Bounds that keep a request from waiting on PostgreSQL (config `database.*`); unset in tools. */
  /** An idle pooled connection failed (server restarted or killed); without it TypeORM logs a warning. */
  onPoolError?: (error: Error) => void;
  timeouts?: { acquireTimeoutMs: number; statementTimeoutMs: number; idleInTransactionTimeoutMs: number };
  entities: MixedList<EntitySchema>;
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  migrations: Function[];
}

/**
 * pg-pool's connectionTimeoutMillis bounds both the wait for a free connection and the connect
 * itself; statement and idle-in-transaction timeouts are enforced by the server, and query_timeout
 * (a little longer) by the client, for a server that vanished without closing the socket.
 */
function poolTimeouts(timeouts: DataSourceOptions['timeouts']) {
  if (!timeouts) return {};
  return {
    connectionTimeoutMillis: timeouts.acquireTimeoutMs,
    // 0: no statement bound (the CLI's bulk commands: seed, import, audit verify).
    ...(timeouts.statementTimeoutMs > 0
      ? { statement_timeout: timeouts.statementTimeoutMs, query_timeout: timeouts.statementTimeoutMs + 1000 } : {}),
    idle_in_transaction_session_timeout: timeouts.idleInTransactionTimeoutMs,
    keepAlive: true,
  };
}

/** A TypeORM DataSource over `pg`; schema changes come only from migrations, never synchronize. */
export async function openDataSource(options: DataSourceOptions): Promise<DataSource> {
  const dataSource = new DataSource({
    type: 'postgres',
    url: options.url,
    entities: options.entities,
    migrations: options.migrations,
    migrationsTableName: 'schema_migrations',
    synchronize: false,
    logging: false,
    ...(options.onPoolError ? { poolErrorHandler: options.onPoolError } : {}),
    extra: { max: options.poolSize, application_name: 'portcullis', ...poolTimeouts(options.timeouts) },
  });
  return dataSource.initialize();
}

/**
 * Applies pending migrations in one transaction. TypeORM takes no lock of its own, so a session
 * advisory lock makes instances that start together migrate one after another.
 */
export async function runMigrations(dataSource: DataSource): Promise<string[]> {
  // The lock lives on its own connection: the pool may have a single one, which TypeORM needs.
  const lock = new pg.Client({ connectionString: (dataSource.options as { url: string }).url });
  await lock.connect();
  try {
    await lock.query(`SELECT pg_advisory_lock(hashtext('portcullis.migrations'))`);
    const applied = await dataSource.runMigrations({ transaction: 'all' });
    return applied.map((migration) => migration.name);
  } finally {
    await lock.end(); // ending the session releases the lock
  }
}
