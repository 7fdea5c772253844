import type Router from '@koa/router';
import type Koa from 'koa';
import type { Middleware } from 'koa';

/** One route a router answers: upper-case method and its path pattern (`/interaction/:uid`). */
export interface RouteEntry { method: string; path: string }

const routers = new WeakMap<object, Router>();

/** Marks a middleware as serving a router's routes, so the route table (and tests) can list them. */
export function describedBy<T extends Middleware>(router: Router, middleware: T): T {
  routers.set(middleware, router);
  return middleware;
}

/** The router a middleware of the app's stack serves, if it is one (tests enumerate routes with it). */
export function routerOf(middleware: Middleware): Router | undefined {
  return routers.get(middleware);
}

/** The routes of one router: every method of every layer that has methods (not `router.use`). */
export function routerEntries(router: Router): RouteEntry[] {
  return router.stack.flatMap((layer) => layer.methods
    .filter((method) => method !== 'HEAD' || !layer.methods.includes('GET'))
    .map((method) => ({ method, path: String(layer.path) })));
}

/**
 * Every route of the app's own routers, read from the middleware stack, so a new router or route
 * is covered by the hostile-input test without anyone listing it. oidc-provider's routes are not
 * here; they come from its discovery document.
 */
export function appRoutes(app: Koa): RouteEntry[] {
  return app.middleware.flatMap((middleware) => {
    const router = routers.get(middleware);
    return router ? routerEntries(router) : [];
  });
}
