import type { Middleware } from 'koa';
import { AppError } from '../errors/app-error.js';
import type { DependencyHealth } from '../infra/dependency-health.js';
import { createErrorResponder } from './error-renderer.js';
import type { Renderer } from './render.js';

export interface ErrorHandlerOptions {
  /** Retry-After of dependency 503s (config `http.retryAfterSeconds`). */
  retryAfterSeconds?: number;
  health?: DependencyHealth;
}

/**
 * The one outermost handler: errors go to the one error renderer (error-renderer.ts); an
 * unexpected 5xx is logged with the request id, a dependency failure only counted (dependency-health.ts).
 */
export function errorHandler(render: Renderer, options: ErrorHandlerOptions = {}): Middleware {
  const respond = createErrorResponder({
    render, retryAfterSeconds: options.retryAfterSeconds ?? 5, health: options.health,
    logUnexpected: (ctx, error) => ctx.state.log?.error({ err: error }, 'unhandled error'),
  });
  return async (ctx, next) => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined && ctx.respond !== false) {
        throw new AppError('not_found', 404, 'There is nothing at this address.');
      }
    } catch (error) {
      await respond(ctx, error);
    }
  };
}
