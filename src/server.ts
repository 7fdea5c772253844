import { createApp } from './http/app.js';
import { createRenderer } from './http/render.js';
import type { Container } from './container.js';
import { createAdapterFactory } from './oidc/adapters/adapter-factory.js';
import { createOidcModelRepository } from './oidc/adapters/oidc-model-repository.js';
import { startExpiredModelCleaner } from './oidc/adapters/expired-model-cleaner.js';
import { createClientAdapter } from './oidc/client-adapter.js';
import { createFindAccount } from './oidc/find-account.js';
import { createProviderHost } from './oidc/provider.js';

/** Everything that serves HTTP, built on a container: the provider host and the Koa app. */
export async function createServer(container: Container) {
  const { config, logger, dataSource, redis } = container;
  let draining = false;
  await container.keys.ensureSigningKey();
  const render = createRenderer({ productName: 'Portcullis', cache: config.nodeEnv !== 'development' });
  const clientAdapter = createClientAdapter(container.clients);
  const adapter = createAdapterFactory({ dataSource, redis, overrides: { Client: () => clientAdapter } });
  const host = await createProviderHost({ config, keys: container.keys, adapter, findAccount: createFindAccount(container.accounts), render, logger });
  const cleaner = startExpiredModelCleaner({ repository: createOidcModelRepository(dataSource), intervalSeconds: config.cleanupIntervalSeconds, logger });
  const readiness = [
    { name: 'postgres', check: async () => { await dataSource.query('SELECT 1'); } },
    ...(redis ? [{ name: 'redis', check: async () => { await redis.ping(); } }] : []),
  ];
  const app = createApp({ config, logger, host, accounts: container.accounts, render, readiness, isDraining: () => draining });
  return {
    app,
    host,
    /** Readiness turns 503 so load balancers stop sending before the listener closes. */
    startDraining() { draining = true; },
    stop() {
      host.stop();
      cleaner.stop();
    },
  };
}

export type Server = Awaited<ReturnType<typeof createServer>>;
