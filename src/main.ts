import http from 'node:http';
import { loadConfig } from './config/load-config.js';
import { resolveSecrets } from './config/resolve-secrets.js';
import { createContainer } from './container.js';
import { createLogger } from './infra/logger.js';
import { createServer } from './server.js';

/** Process entry: config → container → app → listen; SIGTERM/SIGINT drain and close in reverse. */
async function main(): Promise<void> {
  const baseConfig = loadConfig();
  const logger = createLogger(baseConfig.logLevel);
  const config = resolveSecrets(baseConfig, (message) => logger.warn(message));
  const container = await createContainer(config, logger, { migrate: config.nodeEnv !== 'production' });
  const server = await createServer(container);
  const httpServer = http.createServer(server.app.callback());
  httpServer.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => httpServer.listen(config.port, resolve));
  logger.info({ issuer: config.issuer, port: config.port, discovery: `${config.issuer}/.well-known/openid-configuration` }, 'Portcullis is listening');
  if (!(await container.setup.adminExists())) {
    logger.warn({ setupUrl: container.setup.link(config.issuer) }, 'no administrator yet: open this one-time link within an hour to create one (or run `npx portcullis users create --role admin`)');
  }

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: draining in-flight requests');
    server.startDraining();
    await new Promise((resolve) => setTimeout(resolve, config.http.drainDelaySeconds * 1000));
    const forced = setTimeout(() => {
      logger.warn('grace period over: closing remaining connections');
      httpServer.closeAllConnections();
    }, config.http.shutdownGraceSeconds * 1000);
    forced.unref();
    httpServer.close(async () => {
      server.stop();
      await container.close();
      logger.info('stopped');
      process.exit(0);
    });
    httpServer.closeIdleConnections();
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((error: unknown) => {
  // The logger may not exist yet (bad configuration): one plain line on stderr, no stack for config errors.
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`portcullis: failed to start: ${message}\n`);
  process.exit(1);
});
