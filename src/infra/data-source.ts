import 'reflect-metadata';
import { DataSource, type EntitySchema, type MixedList } from 'typeorm';

export type { DataSource };

export interface DataSourceOptions {
  url: string;
  poolSize: number;
  entities: MixedList<EntitySchema>;
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  migrations: Function[];
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
    extra: { max: options.poolSize, application_name: 'portcullis' },
  });
  return dataSource.initialize();
}

/** Applies pending migrations in one transaction; safe to run from several instances at once. */
export async function runMigrations(dataSource: DataSource): Promise<string[]> {
  const applied = await dataSource.runMigrations({ transaction: 'all' });
  return applied.map((migration) => migration.name);
}
