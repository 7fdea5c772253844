import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadConfig } from '../../src/config/load-config.js';
import { resolveSecrets } from '../../src/config/resolve-secrets.js';
import { createContainer, type Container } from '../../src/container.js';
import { createLogger, type Logger } from '../../src/infra/logger.js';
import { createServer, type Server } from '../../src/server.js';
import { createTestDatabase, testRedis } from './test-database.js';

export interface TestServer {
  issuer: string;
  /** Where it listens; `issuer` is the same, even when overrides set another (see container.config.issuer). */
  origin: string;
  container: Container;
  server: Server;
  databaseUrl: string;
  /** The environment a CLI run against this server's database would get. */
  env: Record<string, string>;
  close(): Promise<void>;
}

/** Config and env for a test database, without a server (CLI and service tests). */
export async function testEnvironment(overrides: Record<string, unknown> = {}, shared?: Record<string, string>) {
  const database = shared ? undefined : await createTestDatabase();
  const redis = testRedis();
  // `shared`: another instance's environment, so both are one deployment (database, Redis prefix, keys).
  const env: Record<string, string> = shared ?? {
    NODE_ENV: 'test',
    DATABASE_URL: database!.url,
    DATA_DIR: `/tmp/portcullis-test-data-${process.pid}`,
    PORTCULLIS_COOKIE_KEYS: randomBytes(32).toString('base64url'),
    PORTCULLIS_ENCRYPTION_KEY: randomBytes(32).toString('base64url'),
    ...(redis ? { REDIS_URL: redis.url, REDIS_KEY_PREFIX: redis.keyPrefix } : {}),
  };
  const config = resolveSecrets(loadConfig({ env, overrides }), () => {});
  return { env, config, databaseUrl: env.DATABASE_URL! };
}

/** The whole app on a real database (and Redis when configured), listening on a free loopback port. */
export async function startTestServer(
  overrides: Record<string, unknown> = {},
  options: {
    now?: () => Date; shareWith?: Pick<TestServer, 'env'>; port?: number; logger?: Logger;
    /** Wraps the app's request handler (test/helpers/request-counter.ts counts each request's work with it). */
    wrapHandler?: (
      handler: ReturnType<Server['app']['callback']>,
    ) => (req: http.IncomingMessage, res: http.ServerResponse) => void;
  } = {},
): Promise<TestServer> {
  const httpServer = http.createServer();
  // `port`: the address an earlier server had, so a restored deployment keeps its issuer.
  await new Promise<void>((resolve) => httpServer.listen(options.port ?? 0, '127.0.0.1', resolve));
  const { port } = httpServer.address() as AddressInfo;
  const issuer = `http://localhost:${port}`;
  const origin = issuer;
  const { env, config, databaseUrl } = await testEnvironment({ issuer, port, ...overrides }, options.shareWith?.env);
  const container = await createContainer(
    config, options.logger ?? createLogger('silent'), { migrate: true, now: options.now });
  const server = await createServer(container);
  httpServer.on('request', options.wrapHandler ? options.wrapHandler(server.app.callback()) : server.app.callback());
  return {
    issuer, origin, container, server, databaseUrl, env,
    async close() {
      httpServer.closeAllConnections();
      await new Promise((resolve) => httpServer.close(resolve));
      server.stop();
      await container.close();
    },
  };
}
