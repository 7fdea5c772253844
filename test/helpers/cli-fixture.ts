import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import { createContainer, type Container } from '../../src/container.js';
import { createLogger } from '../../src/infra/logger.js';
import { cliRunner } from './cli-runner.js';
import { testEnvironment } from './test-server.js';

/**
 * A CLI test file's database, opened in beforeAll and closed in afterAll: the environment CLI runs get,
 * a raw SQL client for checking rows, and a container — a second, independent view of the same database,
 * what the server would see after a CLI change. Read the fields inside hooks and tests, not at import.
 */
export function cliFixture() {
  let env: Record<string, string> | undefined;
  let sql: pg.Client | undefined;
  let container: Container | undefined;
  const opened = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('cliFixture is read before its beforeAll ran');
    return value;
  };

  beforeAll(async () => {
    // The container reads clients afresh, as a server would once clientCacheSeconds passed after a CLI change.
    const environment = await testEnvironment({ clientCacheSeconds: 0 });
    env = environment.env;
    sql = new pg.Client({ connectionString: environment.databaseUrl });
    await sql.connect();
    // The test database comes migrated from the template, so nothing is pending.
    container = await createContainer(environment.config, createLogger('silent'), { migrate: false, redis: false });
  });

  afterAll(async () => {
    await container?.close();
    await sql?.end();
  });

  return {
    get env() { return opened(env); },
    get sql() { return opened(sql); },
    get container() { return opened(container); },
    ...cliRunner(() => opened(env)),
  };
}
