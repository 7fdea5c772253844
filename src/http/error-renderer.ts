import type { Context } from 'koa';
import { AppError, TooManyRequestsError } from '../errors/app-error.js';
import { translator, type Locale } from '../i18n/i18n.js';
import { isDependencyFailure } from '../infra/dependency-failure.js';
import type { DependencyHealth } from '../infra/dependency-health.js';
import type { Renderer } from './render.js';

export interface ExposedError { status: number; code: string; message: string; dependencyFailure: boolean }

const unavailable = 'The service is temporarily unavailable. Try again in a moment.';

/**
 * What a client may see of `error`: ours carry `code`, oidc-provider's `error`/`error_description`.
 * A dependency failure (or any of our 503s) is `temporarily_unavailable`, the code RFC 6749 §4.1.2.1
 * gives the authorization endpoint, used everywhere; anything else unexpected is a 500.
 */
export function describeError(error: unknown): ExposedError {
  if (error instanceof AppError && error.expose) {
    return { status: error.status, code: error.code, message: error.message, dependencyFailure: false };
  }
  // A 503 of ours (e.g. the rate-limit store failed closed) keeps its status but never its message.
  if ((error instanceof AppError && error.status === 503) || isDependencyFailure(error)) {
    return { status: 503, code: 'temporarily_unavailable', message: unavailable, dependencyFailure: true };
  }
  const oidc = error as { statusCode?: number; error?: string; error_description?: string; expose?: boolean };
  if (oidc && typeof oidc.statusCode === 'number' && oidc.statusCode < 500 && oidc.error) {
    const message = oidc.error_description ?? oidc.error;
    return { status: oidc.statusCode, code: oidc.error, message, dependencyFailure: false };
  }
  const message = 'An unexpected error occurred. Try again later.';
  return { status: 500, code: 'server_error', message, dependencyFailure: false };
}

/** Error codes whose page message comes from the catalogue, in the person's language. */
const pageMessages: Record<string, string> = {
  too_many_attempts: 'pages.error.too_many',
  csrf_token_invalid: 'pages.error.csrf',
  server_error: 'pages.error.heading_server',
  temporarily_unavailable: 'pages.error.unavailable',
};

function heading(status: number): string {
  if (status === 503) return 'pages.error.heading_unavailable';
  return status >= 500 ? 'pages.error.heading_server' : 'pages.error.heading_client';
}

export interface ErrorResponderOptions {
  /** Pages; without it (or with `json`) every answer is JSON. */
  render?: Renderer;
  /** Always JSON, whatever Accept says (the admin API). */
  json?: boolean;
  /** Retry-After of dependency 503s (config `http.retryAfterSeconds`). */
  retryAfterSeconds: number;
  /** Counts dependency failures and logs state changes instead of one stack per request. */
  health?: DependencyHealth;
  /** Logs an unexpected (non-dependency) 5xx; the caller knows which logger fits. */
  logUnexpected?: (ctx: Context, error: unknown) => void;
}

export type ErrorResponder = (ctx: Context, error: unknown) => Promise<ExposedError>;

/**
 * The one error renderer, for our routes and for oidc-provider's (renderError and its JSON
 * server_error): pages get error.ejs in the person's language, API callers
 * `{ error, error_description }`; 503s carry Retry-After, 5xx a request id, never a stack.
 */
export function createErrorResponder(options: ErrorResponderOptions): ErrorResponder {
  const { render, json, retryAfterSeconds, health, logUnexpected } = options;
  return async (ctx, error) => {
    const described = describeError(error);
    if (described.dependencyFailure) health?.requestFailed(error);
    else if (described.status >= 500) logUnexpected?.(ctx, error);
    if (ctx.headerSent || !ctx.writable) return described;
    ctx.set('Cache-Control', 'no-store');
    if (error instanceof TooManyRequestsError) ctx.set('Retry-After', String(error.retryAfterSeconds));
    if (described.status === 503) ctx.set('Retry-After', String(retryAfterSeconds));
    if (render && !json && ctx.accepts(['html', 'json']) === 'html') {
      try {
        await renderPage(ctx, render, described);
        return described;
      } catch (renderFailure) {
        // A page that cannot be rendered still gets an answer of ours, never Koa's default one.
        logUnexpected?.(ctx, renderFailure);
      }
    }
    ctx.status = described.status;
    const requestId = described.status >= 500 ? { request_id: ctx.state.requestId } : {};
    ctx.body = { error: described.code, error_description: described.message, ...requestId };
    return described;
  };

  async function renderPage(ctx: Context, render: Renderer, described: ExposedError): Promise<void> {
    const t = translator((ctx.state.locale as Locale | undefined) ?? 'en');
    const catalogued = pageMessages[described.code];
    await render(ctx, 'error', {
      title: t('pages.error.title'), heading: t(heading(described.status)),
      message: catalogued ? t(catalogued) : described.message, requestId: ctx.state.requestId,
    }, described.status);
  }
}
