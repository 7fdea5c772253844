import type { Middleware } from 'koa';
import { AppError } from '../errors/app-error.js';
import type { Renderer } from './render.js';

interface ExposedError { status: number; code: string; message: string }

/** oidc-provider errors carry `error`/`error_description`; ours carry `code`; anything else is a 500. */
function describe(error: unknown): ExposedError {
  if (error instanceof AppError && error.expose) return { status: error.status, code: error.code, message: error.message };
  const oidc = error as { statusCode?: number; error?: string; error_description?: string; expose?: boolean };
  if (oidc && typeof oidc.statusCode === 'number' && oidc.statusCode < 500 && oidc.error) {
    return { status: oidc.statusCode, code: oidc.error, message: oidc.error_description ?? oidc.error };
  }
  return { status: 500, code: 'server_error', message: 'An unexpected error occurred. Try again later.' };
}

/**
 * The one outermost handler: pages get error.ejs, API callers get `{ error, error_description }`;
 * a 5xx is logged with the request id and never shows a stack.
 */
export function errorHandler(render: Renderer): Middleware {
  return async (ctx, next) => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined && ctx.respond !== false) throw new AppError('not_found', 404, 'There is nothing at this address.');
    } catch (error) {
      const described = describe(error);
      if (described.status >= 500) ctx.state.log?.error({ err: error }, 'unhandled error');
      if (ctx.headerSent || !ctx.writable) return;
      ctx.set('Cache-Control', 'no-store');
      if (ctx.accepts(['html', 'json']) === 'html') {
        await render(ctx, 'error', {
          title: 'Error', heading: described.status >= 500 ? 'Something went wrong' : 'This request could not be completed',
          message: described.message, requestId: ctx.state.requestId,
        }, described.status);
      } else {
        ctx.status = described.status;
        ctx.body = { error: described.code, error_description: described.message, ...(described.status >= 500 ? { request_id: ctx.state.requestId } : {}) };
      }
    }
  };
}
