import Provider, { type Configuration } from 'oidc-provider';
import type { Middleware } from 'koa';
import type { ResolvedConfig } from '../config/schema.js';
import type { Renderer } from '../http/render.js';
import type { Logger } from '../infra/logger.js';
import type { ApiLookup } from '../apis/api-registry.js';
import type { KeyService } from '../keys/key-service.js';
import { buildConfiguration } from './configuration.js';
import { publicCaching } from './public-caching.js';
import type { RoleLookup } from './resource-servers.js';
import { trackSessions, type SessionTracker } from './session-lifetime.js';
import { createErrorResponder } from '../http/error-renderer.js';
import type { DependencyHealth } from '../infra/dependency-health.js';
import { isDependencyFailure } from '../infra/dependency-failure.js';

export interface ProviderHostDeps {
  config: ResolvedConfig;
  keys: KeyService;
  adapter: Configuration['adapter'];
  findAccount: Configuration['findAccount'];
  /** Roles and permissions for access-token claims and rbac APIs. */
  roles: RoleLookup;
  /** The APIs (resource indicators) tokens can be issued for. */
  apis: ApiLookup;
  render: Renderer;
  logger: Logger;
  /** Records sign-ins and enforces idle timeout / lifetime (interaction-policy.ts). */
  sessions?: SessionTracker;
  /** Counts dependency failures behind oidc-provider's own endpoints (dependency-health.ts). */
  health?: DependencyHealth;
  /** Called with each new provider instance, e.g. to subscribe to its events. */
  onBuild?: (provider: Provider) => void;
}

/**
 * Holds the current oidc-provider instance. oidc-provider takes its keys at construction, so a
 * changed key set (rotation, a next key becoming active) builds a fresh instance; all state lives
 * in the adapters, so swapping instances loses nothing.
 */
export async function createProviderHost(deps: ProviderHostDeps) {
  const { config, keys, logger } = deps;
  // The app's one error renderer, also for oidc-provider's renderError and its JSON server_error.
  const respondWithError = createErrorResponder({
    render: deps.render, retryAfterSeconds: config.http.retryAfterSeconds, health: deps.health,
  });

  function build(jwks: Configuration['jwks']): Provider {
    const provider = new Provider(config.issuer, buildConfiguration({ ...deps, jwks, respondWithError }));
    // X-Forwarded-* reach the provider only from trusted proxies: requestContext strips the rest.
    provider.proxy = true;
    // The outer app's request state (id, logger, CSP nonce, client IP) for oidc-provider's own pages.
    // Outermost in oidc-provider's Koa app: nothing reaches its default error handler, and an
    // endpoint whose store failed answers 503 temporarily_unavailable, not oidc-provider's
    // generic server_error (its error handlers catch adapter errors and emit `server_error`, below).
    provider.use(async (ctx, next) => {
      Object.assign(ctx.state, (ctx.req as { outerState?: object }).outerState);
      try {
        await next();
      } catch (error) {
        if (!isDependencyFailure(error)) {
          (ctx.state?.log ?? logger).error({ err: error }, 'oidc-provider unhandled error');
        }
        await respondWithError(ctx, error);
        return;
      }
      const failure: unknown = ctx.state.dependencyFailure;
      // Pages already went through renderError (configuration.ts) and answered 503; JSON is rewritten here.
      if (failure !== undefined && ctx.status !== 503) await respondWithError(ctx, failure);
    });
    provider.use(publicCaching());
    if (deps.sessions) provider.use(trackSessions(provider, deps.sessions, logger));
    deps.onBuild?.(provider);
    provider.on('server_error', (ctx, error) => {
      // A store outage is counted and logged once by the health tracker, not as a stack per request.
      if (isDependencyFailure(error)) ctx.state.dependencyFailure = error;
      else (ctx.state?.log ?? logger).error({ err: error }, 'oidc-provider server error');
    });
    return provider;
  }

  let fingerprint = await keys.fingerprint();
  let provider = build(await keys.privateJwks());
  let handler = provider.callback();

  /** Re-reads the key set and swaps the provider when it changed. */
  async function reload(): Promise<boolean> {
    await keys.rotateIfDue();
    const next = await keys.fingerprint();
    if (next === fingerprint) return false;
    const jwks = await keys.privateJwks();
    provider = build(jwks);
    handler = provider.callback();
    fingerprint = next;
    logger.info('signing keys changed: provider reloaded');
    return true;
  }

  const timer = setInterval(() => {
    reload().catch((error: unknown) => logger.error({ err: error }, 'signing key reload failed'));
  }, config.keys.reloadSeconds * 1000);
  timer.unref();

  /** Hands the request to oidc-provider (its own Koa app). */
  const middleware: Middleware = async (ctx) => {
    ctx.respond = false;
    (ctx.req as { outerState?: object }).outerState = ctx.state;
    await handler(ctx.req, ctx.res);
  };

  return {
    get provider() { return provider; },
    middleware,
    reload,
    stop: () => clearInterval(timer),
  };
}

export type ProviderHost = Awaited<ReturnType<typeof createProviderHost>>;
