import { createApp } from './http/app.js';
import { createRenderer } from './http/render.js';
import type { Container } from './container.js';
import { startExpiredModelCleaner } from './oidc/adapters/expired-model-cleaner.js';
import { createFindAccount } from './oidc/find-account.js';
import { registerApiKeyExchange } from './oidc/api-key-exchange.js';
import { createProviderHost } from './oidc/provider.js';
import { subscribeTokenEvents } from './oidc/token-events.js';

/** Everything that serves HTTP, built on a container: the provider host and the Koa app. */
export async function createServer(container: Container) {
  const { config, logger, dataSource, redis } = container;
  let draining = false;
  await container.keys.ensureSigningKey();
  const render = createRenderer({ branding: config.branding, cache: config.nodeEnv !== 'development' });
  const host = await createProviderHost({ config, keys: container.keys, adapter: container.adapter, findAccount: createFindAccount(container.accounts), roles: container.rbac, apis: container.apis, render, logger, sessions: container.sessionService,
    onBuild: (provider) => {
      subscribeTokenEvents(provider, { audit: container.audit, backchannel: container.backchannel, logger });
      registerApiKeyExchange(provider, { apiKeys: container.apiKeys, apis: container.apis, algorithm: config.keys.algorithm });
    },
  });
  // Session revocation signs logout tokens with whichever provider instance is current.
  container.backchannel.attach(() => host.provider);
  const cleaners = [
    startExpiredModelCleaner({ repository: container.oidcModels, intervalSeconds: config.cleanupIntervalSeconds, logger }),
    // Spent and expired emailed links: nothing can use them, so only their hashes would pile up.
    startExpiredModelCleaner({
      repository: { deleteExpired: (_batch, now) => container.db.repos.accountTokens.deleteExpired(now ?? new Date()) },
      intervalSeconds: config.cleanupIntervalSeconds, logger,
    }),
    // Metadata of sessions past their absolute end (the list also drops rows of ended sessions).
    startExpiredModelCleaner({
      repository: { deleteExpired: (_batch, now) => container.sessionService.deleteExpired(now) },
      intervalSeconds: config.cleanupIntervalSeconds, logger,
    }),
    // Delivered outbox messages past outbox.retentionDays; dead ones wait for `portcullis outbox retry`.
    startExpiredModelCleaner({
      repository: {
        deleteExpired: (batch, now) => container.db.repos.outbox.deleteDeliveredBefore(
          new Date((now ?? new Date()).getTime() - config.outbox.retentionDays * 86_400_000), batch),
      },
      intervalSeconds: config.cleanupIntervalSeconds, logger,
    }),
  ];
  const readiness = [
    { name: 'postgres', check: async () => { await dataSource.query('SELECT 1'); } },
    ...(redis ? [{ name: 'redis', check: async () => { await redis.ping(); } }] : []),
  ];
  const app = createApp({ container, host, render, readiness, isDraining: () => draining });
  // Delivers email, SMS and account jobs; container.close() waits for the delivery in flight.
  if (config.outbox.worker) container.outbox.start();
  return {
    app,
    host,
    /** Readiness turns 503 so load balancers stop sending before the listener closes. */
    startDraining() { draining = true; },
    stop() {
      host.stop();
      void container.outbox.stop();
      for (const cleaner of cleaners) cleaner.stop();
    },
  };
}

export type Server = Awaited<ReturnType<typeof createServer>>;
