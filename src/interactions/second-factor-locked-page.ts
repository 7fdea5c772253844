import type { Context } from 'koa';
import type { Renderer } from '../http/render.js';
import type { SecondFactorLockedError } from '../mfa/second-factor-guard.js';
import { tr } from './page-context.js';

/** The page a locked second-factor step shows: "too many wrong codes, try again in N minutes" (429 + Retry-After). */
export async function renderSecondFactorLocked(ctx: Context, render: Renderer, error: SecondFactorLockedError) {
  ctx.set('Retry-After', String(error.retryAfterSeconds));
  await render(ctx, 'interaction/message', {
    title: tr(ctx, 'pages.mfa_locked.title'), heading: tr(ctx, 'pages.mfa_locked.title'),
    message: lockedMessage(ctx, error),
  }, 429);
}

/** The sentence of that page, also the `error_description` of the JSON (passkey) endpoints. */
export function lockedMessage(ctx: Context, error: SecondFactorLockedError): string {
  return error.permanent
    ? tr(ctx, 'pages.mfa_locked.body_permanent')
    : tr(ctx, 'pages.mfa_locked.body', { minutes: Math.max(1, Math.ceil(error.retryAfterSeconds / 60)) });
}
