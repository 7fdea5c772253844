import type { Context, Middleware } from 'koa';
import type { Config } from '../config/schema.js';
import { accountLoginUrl } from './account-session.js';

/** Marks the guard so a test can find it in a router's layers (test/integration/recent-auth-routes.test.ts). */
export const recentAuthGuard = Symbol('portcullis.recentAuthGuard');

/**
 * The one definition of "recent": the session's last proof of identity (oidc-provider's
 * `loginTs`, reset by every password, passkey or step-up sign-in) is at most `seconds` old.
 */
export function signedInWithin(loginTs: number | undefined, seconds: number, nowMs = Date.now()): boolean {
  return nowMs / 1000 - Number(loginTs ?? 0) <= seconds;
}

/** True when the signed-in person (ctx.state.loginTs, set by requireSignedIn) proved who they are recently. */
export function signedInRecently(ctx: Context, seconds: number): boolean {
  return signedInWithin(Number(ctx.state.loginTs ?? 0), seconds);
}

/**
 * Every credential change (a factor added or removed, recovery codes, password, email, personal
 * API keys) needs a sign-in from the last `mfa.recentAuthSeconds`, so a stolen session can't plant
 * the thief's factor or lock the owner out. Runs after requireSignedIn. A stale session changes
 * nothing: a page is sent to a step-up sign-in (prompt=login through the account client) that
 * comes back to `returnTo` (default: this page); a JSON request gets 401 `reauthentication_required`
 * with the same sign-in address in `redirect`.
 */
export function requireRecentAuth(config: Pick<Config, 'issuer' | 'mfa'>, returnTo?: string): Middleware {
  const secure = config.issuer.startsWith('https://');
  const guard: Middleware = async (ctx, next) => {
    if (signedInRecently(ctx, config.mfa.recentAuthSeconds)) return next();
    const redirect = accountLoginUrl(ctx, config.issuer, secure, returnTo ?? ctx.path, true);
    ctx.set('Cache-Control', 'no-store');
    if (ctx.method !== 'GET' && ctx.accepts(['html', 'json']) === 'json') {
      ctx.status = 401;
      const error_description = 'Sign in again to make this change.';
      ctx.body = { error: 'reauthentication_required', error_description, redirect };
      return;
    }
    ctx.redirect(redirect);
  };
  return Object.assign(guard, { [recentAuthGuard]: true });
}

/** True for the middleware requireRecentAuth returns. */
export function isRecentAuthGuard(middleware: unknown): boolean {
  return typeof middleware === 'function' && (middleware as { [recentAuthGuard]?: boolean })[recentAuthGuard] === true;
}
