import type { Middleware } from 'koa';

/** oidc-provider's route names whose answers are the same for everyone. */
const publicRoutes = new Set(['discovery', 'jwks']);

/**
 * `Cache-Control: public` on discovery and JWKS. Safe only because src/http/issuer-pin.ts makes
 * every URL in them the issuer's: a cache can no longer keep an answer built for a forged Host.
 * Five minutes keeps a published next key (keys.publishLeadSeconds) well ahead of its use.
 */
export function publicCaching(maxAgeSeconds = 300): Middleware {
  return async (ctx, next) => {
    await next();
    const route = (ctx as { oidc?: { route?: string } }).oidc?.route;
    if (ctx.status !== 200 || !route || !publicRoutes.has(route)) return;
    ctx.set('Cache-Control', `public, max-age=${maxAgeSeconds}`);
  };
}
