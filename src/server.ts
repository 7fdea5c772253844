import { startAuditCheckpointer } from './audit/audit-checkpointer.js';
import { assertAuditPrivileges } from './audit/audit-privileges.js';
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
  const { config, logger } = container;
  let draining = false;
  // The service must not be able to rewrite its own audit trail: production refuses, elsewhere it warns.
  assertAuditPrivileges(await container.auditTrail.privileges(), {
    production: config.nodeEnv === 'production', logger,
  });
  if (!container.auditTrail.checkpoints.enabled) {
    logger.warn('audit checkpoints are off: set PORTCULLIS_AUDIT_CHECKPOINT_KEY so audit verify can detect '
      + 'deleted events');
  }
  await container.keys.ensureSigningKey();
  const render = createRenderer({ branding: config.branding, cache: config.nodeEnv !== 'development' });
  const host = await createProviderHost({
    config, keys: container.keys, adapter: container.adapter, findAccount: createFindAccount(container.accounts),
    roles: container.rbac, apis: container.apis, render, logger, sessions: container.sessionService,
    health: container.health,
    onBuild: (provider) => {
      subscribeTokenEvents(provider, { audit: container.audit, backchannel: container.backchannel, logger });
      registerApiKeyExchange(provider, {
        apiKeys: container.apiKeys, apis: container.apis, algorithm: config.keys.algorithm, roles: container.rbac,
      });
    },
  });
  // Session revocation signs logout tokens with whichever provider instance is current.
  container.backchannel.attach(() => host.provider);
  const cleaners = [
    // Signed checkpoints of the chain's head (README "Audit checkpoints").
    startAuditCheckpointer({
      checkpoints: container.auditTrail.checkpoints, intervalSeconds: config.audit.checkpoint.intervalSeconds, logger,
    }),
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
    // Lock records whose level may be forgotten (their lock ended a failure memory ago).
    ...(container.lockoutRecords ? [startExpiredModelCleaner({
      repository: { deleteExpired: (_batch, now) => container.lockoutRecords!.deleteForgotten(now ?? new Date()) },
      intervalSeconds: config.cleanupIntervalSeconds, logger,
    })] : []),
    // Delivered outbox messages past outbox.retentionDays; dead ones wait for `portcullis outbox retry`.
    startExpiredModelCleaner({
      repository: {
        deleteExpired: (batch, now) => container.db.repos.outbox.deleteDeliveredBefore(
          new Date((now ?? new Date()).getTime() - config.outbox.retentionDays * 86_400_000), batch),
      },
      intervalSeconds: config.cleanupIntervalSeconds, logger,
    }),
  ];
  // Bounded checks on their own connection (dependency-probes.ts): /readyz answers within a second
  // whatever the state, and an exhausted request pool does not read as "PostgreSQL down".
  const readiness = container.probes;
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
