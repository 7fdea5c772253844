import type Router from '@koa/router';
import type { Middleware } from 'koa';
import { describedBy } from './route-table.js';

/** The first segment of a path, lower-cased as the router matches: `/account` for `/Account/security`. */
const firstSegment = (path: string) => `/${path.split('/')[1] ?? ''}`.toLowerCase();

/**
 * A router's routes and allowed-methods middleware, skipped at once for paths none of its routes
 * can match: every request passes every router on its way to oidc-provider, and matching each
 * router's layers for /token or /me was measurable CPU (bench/results.md). A router with a route
 * whose first segment is a parameter is never skipped.
 */
export function gatedRouter(router: Router): Middleware {
  const segments = new Set(router.stack.map((layer) => firstSegment(String(layer.path))));
  const routes = router.routes();
  const allowed = router.allowedMethods();
  const always = [...segments].some((segment) => segment.includes(':') || segment.includes('(') || segment === '/');
  return describedBy(router, async (ctx, next) => {
    if (!always && !segments.has(firstSegment(ctx.path))) return next();
    // @koa/router's context types differ between routes() and allowedMethods(); the object is the same.
    await routes(ctx as never, () => allowed(ctx as never, next));
  });
}
