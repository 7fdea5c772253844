import { translator, type Locale } from '../i18n/i18n.js';
import type { Middleware } from 'koa';
import { AppError, TooManyRequestsError } from '../errors/app-error.js';
import type { Renderer } from './render.js';

interface ExposedError { status: number; code: string; message: string }

/** oidc-provider errors carry `error`/`error_description`; ours carry `code`; anything else is a 500. */
function describe(error: unknown): ExposedError {
  if (error instanceof AppError && error.expose) return { status: error.status, code: error.code, message: error.message };
  // A 503 (e.g. the rate-limit store is down, so we fail closed) keeps its status but never its message.
  if (error instanceof AppError && error.status === 503) return { status: 503, code: 'temporarily_unavailable', message: 'The service is temporarily unavailable. Try again later.' };
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
/** Error codes whose page message comes from the catalogue, in the person's language. */
const pageMessages: Record<string, string> = {
  too_many_attempts: 'pages.error.too_many',
  csrf_token_invalid: 'pages.error.csrf',
  server_error: 'pages.error.heading_server',
};

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
      if (error instanceof TooManyRequestsError) ctx.set('Retry-After', String(error.retryAfterSeconds));
      if (ctx.accepts(['html', 'json']) === 'html') {
        const t = translator((ctx.state.locale as Locale | undefined) ?? 'en');
        const catalogued = pageMessages[described.code];
        await render(ctx, 'error', {
          title: t('pages.error.title'), heading: t(described.status >= 500 ? 'pages.error.heading_server' : 'pages.error.heading_client'),
          message: catalogued ? t(catalogued) : described.message, requestId: ctx.state.requestId,
        }, described.status);
      } else {
        ctx.status = described.status;
        ctx.body = { error: described.code, error_description: described.message, ...(described.status >= 500 ? { request_id: ctx.state.requestId } : {}) };
      }
    }
  };
}
