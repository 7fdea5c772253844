import { randomUUID } from 'node:crypto';
import type { Middleware } from 'koa';
import type { Logger } from '../infra/logger.js';

const forwardedHeaders = ['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-port', 'forwarded'];

function normalise(address: string | undefined): string {
  return (address ?? '').replace(/^::ffff:/, '');
}

/**
 * Gives each request an id, a child logger and its client IP. X-Forwarded-* are believed only
 * from a configured trusted proxy and stripped otherwise, so neither we nor oidc-provider (which
 * runs with `proxy = true`) can be fooled by a forged header.
 */
export function requestContext(logger: Logger, trustedProxies: string[]): Middleware {
  const trusted = new Set(trustedProxies.map(normalise));
  return async (ctx, next) => {
    const peer = normalise(ctx.req.socket.remoteAddress);
    if (trusted.has(peer)) {
      const hops = (ctx.get('x-forwarded-for') || '').split(',').map((hop) => normalise(hop.trim())).filter(Boolean);
      ctx.state.clientIp = [...hops].reverse().find((hop) => !trusted.has(hop)) ?? hops[0] ?? peer;
    } else {
      for (const header of forwardedHeaders) delete ctx.req.headers[header];
      ctx.state.clientIp = peer;
    }
    const incoming = ctx.get('x-request-id');
    ctx.state.requestId = /^[\w-]{8,64}$/.test(incoming) ? incoming : randomUUID();
    ctx.set('X-Request-Id', ctx.state.requestId);
    ctx.state.log = logger.child({ requestId: ctx.state.requestId });
    const started = performance.now();
    try {
      await next();
    } finally {
      // A 503 is a dependency outage, logged once by the health tracker: its requests stay at warn.
      const level = ctx.status === 503 ? 'warn' : ctx.status >= 500 ? 'error' : 'info';
      ctx.state.log[level]({ method: ctx.method, path: ctx.path, status: ctx.status, ms: Math.round(performance.now() - started), ip: ctx.state.clientIp }, 'request');
    }
  };
}
