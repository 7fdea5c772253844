import type { Middleware } from 'koa';
import { AppError } from '../errors/app-error.js';

/** Paths load balancers probe by address (http://10.0.0.7:3000/healthz): no Host or https to check. */
const probePaths = new Set(['/healthz', '/readyz']);

/** host[:port] as the issuer's URL spells it (lower case, default port dropped); undefined if it is no host. */
function canonicalHost(protocol: string, host: string): string | undefined {
  // Only a name or an address and a port: `evil.example/x` or `a@b` would parse to another host.
  if (!/^([\w.-]+|\[[\da-f:.]+\])(:\d{1,5})?$/i.test(host)) return undefined;
  try {
    return new URL(`${protocol}//${host}`).host;
  } catch {
    return undefined;
  }
}

/**
 * Every absolute URL comes from the configured issuer, never from the request (oidc-provider's
 * `urlFor` builds its endpoints from `ctx.href`). A request for another host, by `Host` or by a
 * trusted proxy's `X-Forwarded-Host`, is refused with 421 Misdirected Request; one that passes has
 * its Host and X-Forwarded-Proto set to the issuer's, so nothing downstream can derive anything else.
 * With an https issuer a plain-http request (no trusted `X-Forwarded-Proto: https`) is sent to the
 * https issuer URL (GET/HEAD, 308) or refused with 400: Koa would throw on our Secure cookies.
 */
export function issuerPin(issuer: string): Middleware {
  const { protocol, host: issuerHost } = new URL(issuer);
  const https = protocol === 'https:';
  return async (ctx, next) => {
    if (probePaths.has(ctx.path)) return next();
    // requestContext removed X-Forwarded-* from untrusted peers, so ctx.secure and ctx.host
    // reflect a trusted proxy's word or the connection itself.
    if (https && !ctx.secure) {
      if (ctx.method !== 'GET' && ctx.method !== 'HEAD') {
        throw new AppError('https_required', 400, `this server answers only over https: send requests to ${issuer}`);
      }
      ctx.redirect(`${issuer}${ctx.originalUrl.startsWith('/') ? ctx.originalUrl : '/'}`);
      ctx.status = 308;
      return;
    }
    if (canonicalHost(protocol, ctx.host) !== issuerHost) {
      throw new AppError('misdirected_request', 421, `this server answers only for ${issuer}`);
    }
    ctx.req.headers.host = issuerHost;
    ctx.req.headers['x-forwarded-proto'] = protocol.slice(0, -1);
    delete ctx.req.headers['x-forwarded-host'];
    await next();
  };
}
