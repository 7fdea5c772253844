import Router from '@koa/router';
import { describedBy } from '../../http/route-table.js';
import type { Middleware } from 'koa';
import { adminApiPrefix } from '../api/admin-router.js';
import { requireAdmin } from './admin-guard.js';
import { registerAccountPages } from './account-pages.js';
import { registerApiKeyPages } from './api-key-pages.js';
import { registerApiPages } from './api-pages.js';
import { registerAuditPages } from './audit-pages.js';
import { registerClientPages } from './client-pages.js';
import { consoleKit, type ConsoleDeps } from './console-kit.js';
import { registerRolePages } from './role-pages.js';
import { registerSigningKeyPages } from './signing-key-pages.js';

/** Everything under /admin/api belongs to the REST API, whichever version. */
const apiRoot = adminApiPrefix.slice(0, adminApiPrefix.lastIndexOf('/'));

/**
 * The admin console: server-rendered pages under /admin for admins whose session passed a second
 * factor (admin-guard.ts). It never answers for /admin/api, the REST API.
 */
export function createAdminConsole(deps: ConsoleDeps): Middleware {
  const router = new Router({ prefix: '/admin' });
  const kit = consoleKit(deps);
  router.use(async (ctx, next) => {
    ctx.set('Cache-Control', 'no-store');
    await next();
  });
  router.use(deps.csrf.issue);
  router.use(requireAdmin(deps));

  router.get('/', (ctx) => kit.page(ctx, 'overview', 'index', 'pages.admin.title'));
  registerClientPages(router, kit, deps);
  registerAccountPages(router, kit, deps);
  registerRolePages(router, kit, deps);
  registerApiPages(router, kit, deps);
  registerApiKeyPages(router, kit, deps);
  registerSigningKeyPages(router, kit, deps);
  registerAuditPages(router, kit, deps);

  const routes = router.routes();
  const allowed = router.allowedMethods();
  return describedBy(router, async (ctx, next) => {
    const path = ctx.path.toLowerCase();
    if (path !== '/admin' && !path.startsWith('/admin/')) return next();
    if (path === apiRoot || path.startsWith(`${apiRoot}/`)) return next();
    // @koa/router's context types differ between routes() and allowedMethods(); the object is the same.
    await routes(ctx as never, () => allowed(ctx as never, next));
  });
}
