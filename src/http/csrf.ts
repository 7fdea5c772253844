import { createHmac, randomBytes } from 'node:crypto';
import type { Context, Middleware } from 'koa';
import { ForbiddenError } from '../errors/app-error.js';
import { safeEqual } from './constant-time.js';

/**
 * Double-submit CSRF protection: an HttpOnly cookie holds a random value, forms carry its HMAC.
 * A cross-site page can neither read the cookie nor compute the HMAC.
 */
export function createCsrf(secret: string, { secure }: { secure: boolean }) {
  const cookieName = secure ? '__Host-pcl.csrf' : 'pcl.csrf';
  const sign = (value: string) => createHmac('sha256', secret).update(`csrf:${value}`).digest('base64url');

  const issue: Middleware = async (ctx, next) => {
    let value = ctx.cookies.get(cookieName);
    if (!value || !/^[\w-]{32,64}$/.test(value)) {
      value = randomBytes(32).toString('base64url');
      ctx.cookies.set(cookieName, value, { httpOnly: true, sameSite: 'lax', secure, path: '/', overwrite: true, signed: false });
    }
    ctx.state.csrfToken = sign(value);
    await next();
  };

  /** Throws unless the submitted token matches this browser's cookie. */
  function verify(ctx: Context, submitted: string | undefined): void {
    const value = ctx.cookies.get(cookieName);
    if (!value || !safeEqual(sign(value), submitted ?? '')) {
      throw new ForbiddenError('csrf_token_invalid', 'The form expired or was sent from another site. Go back, reload the page and try again.');
    }
  }

  return { issue, verify };
}

export type Csrf = ReturnType<typeof createCsrf>;
