import Router from '@koa/router';
import { describedBy } from '../../http/route-table.js';
import type { Middleware } from 'koa';
import type { AccountService } from '../../accounts/account-service.js';
import type { AccountAdminService } from '../account-admin-service.js';
import type { AuditService } from '../../audit/audit-service.js';
import type { ApiKeyService } from '../../api-keys/api-key-service.js';
import type { ApiRegistry } from '../../apis/api-registry.js';
import type { ClientService } from '../../clients/client-service.js';
import { AppError, ServiceUnavailableError, TooManyRequestsError } from '../../errors/app-error.js';
import type { RateLimits } from '../../http/rate-limit.js';
import type { KeyService } from '../../keys/key-service.js';
import type { RbacService } from '../../rbac/rbac-service.js';
import { registerAccountRoutes } from './admin-account-routes.js';
import { registerApiKeyRoutes } from './admin-api-key-routes.js';
import { registerAuditRoutes } from './admin-audit-routes.js';
import { registerRoleRoutes } from './admin-role-routes.js';
import { registerSigningKeyRoutes } from './admin-signing-key-routes.js';
import { registerApiRoutes } from './admin-apis-routes.js';
import { adminAuth, InsufficientScopeError, UnauthorizedError } from './admin-auth.js';
import { registerClientRoutes } from './admin-client-routes.js';
import { buildOpenApi } from './admin-openapi.js';
import { createErrorResponder } from '../../http/error-renderer.js';
import { isDependencyFailure } from '../../infra/dependency-failure.js';
import type { DependencyHealth } from '../../infra/dependency-health.js';
import type { RegisteredRoute } from './admin-route.js';

/** Where the admin REST API lives. */
export const adminApiPrefix = '/admin/api/v1';

export interface AdminRouterDeps {
  config: { issuer: string; http?: { retryAfterSeconds: number } };
  /** Counts dependency failures (dependency-health.ts). */
  health?: DependencyHealth;
  accounts: AccountService;
  accountAdmin: AccountAdminService;
  audit: Pick<AuditService<unknown>, 'query'>;
  clients: ClientService;
  apiKeys: ApiKeyService;
  apis: ApiRegistry;
  rbac: RbacService;
  keys: KeyService;
  rateLimits: RateLimits;
}

/**
 * The admin REST API under /admin/api/v1. Its answers are always JSON, errors included: the app's
 * outer handler would show an HTML page to a caller sending `Accept: *\/*`, so errors are rendered here.
 */
export function createAdminApi({
  config, accounts, accountAdmin, audit, clients, apiKeys, apis, rbac, keys, rateLimits, health,
}: AdminRouterDeps): Middleware {
  const router = new Router({ prefix: adminApiPrefix });
  const registry: RegisteredRoute[] = [];
  const auth = adminAuth({ issuer: config.issuer, keys, apiKeys, rbac, clients });
  registerClientRoutes(router, registry, auth, clients);
  registerAccountRoutes(router, registry, auth, accounts, accountAdmin);
  registerRoleRoutes(router, registry, auth, rbac);
  registerApiKeyRoutes(router, registry, auth, apiKeys);
  registerSigningKeyRoutes(router, registry, auth, keys);
  registerAuditRoutes(router, registry, auth, audit);
  registerApiRoutes(router, registry, auth, apis);
  const document = buildOpenApi(registry, { issuer: config.issuer, prefix: adminApiPrefix });
  router.get('/openapi.json', (ctx) => { ctx.body = document; });
  const routes = router.routes();
  const allowed = router.allowedMethods();
  const respondUnavailable = createErrorResponder({
    retryAfterSeconds: config.http?.retryAfterSeconds ?? 5, health, json: true,
  });

  return describedBy(router, async (ctx, next) => {
    if (ctx.path !== adminApiPrefix && !ctx.path.startsWith(`${adminApiPrefix}/`)) return next();
    ctx.set('Cache-Control', 'no-store');
    try {
      // Counted before authentication, so guessing credentials costs the same as using them.
      await rateLimits.consume('adminApiPerIp', ctx.state.clientIp ?? ctx.ip);
      // @koa/router's context types differ between routes() and allowedMethods(); the object is the same.
      await allowed(ctx as never, () => routes(ctx as never, async () => {}));
      if (ctx.status === 405) throw new AppError('method_not_allowed', 405, `${ctx.method} is not allowed here`);
      if (ctx.status === 404 && ctx.body === undefined) throw new AppError('not_found', 404, 'There is nothing at this address.');
    } catch (error) {
      if (error instanceof ServiceUnavailableError || isDependencyFailure(error)) {
        // A store is down (the rate limiter fails closed): the one error renderer's 503, always JSON here.
        await respondUnavailable(ctx, error);
        return;
      }
      if (!(error instanceof AppError) || !error.expose) {
        ctx.state.log?.error({ err: error }, 'unhandled error');
        ctx.status = 500;
        ctx.body = { error: 'server_error', error_description: 'An unexpected error occurred. Try again later.', request_id: ctx.state.requestId };
        return;
      }
      if (error instanceof UnauthorizedError || error instanceof InsufficientScopeError) ctx.set('WWW-Authenticate', error.challenge);
      if (error instanceof TooManyRequestsError) ctx.set('Retry-After', String(error.retryAfterSeconds));
      // A body the services refuse (a bad redirect URI, an invalid TTL) is well-formed JSON with unacceptable content: 422.
      ctx.status = error.status === 400 && error.code !== 'invalid_json' ? 422 : error.status;
      ctx.body = { error: error.code, error_description: error.message };
    }
  });
}
