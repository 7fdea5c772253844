import type { Context, Next } from 'koa';
import { AppError } from '../errors/app-error.js';
import type { InteractionDeps } from '../interactions/interaction-deps.js';
import { accountLoginUrl, currentAccount } from './account-session.js';

/** Loads the signed-in account into ctx.state, or sends the person to sign in (GET) / refuses (POST). */
export function requireSignedIn({ host, accounts, config }: Pick<InteractionDeps, 'host' | 'accounts' | 'config'>) {
  const secure = config.issuer.startsWith('https://');
  return async (ctx: Context, next: Next) => {
    const current = await currentAccount(host, ctx);
    const account = current ? await accounts.findById(current.accountId) : null;
    if (!current || !account || account.disabledAt) {
      if (ctx.method !== 'GET') throw new AppError('login_required', 401, 'Sign in again to continue.');
      return ctx.redirect(accountLoginUrl(ctx, config.issuer, secure, ctx.path));
    }
    ctx.state.account = account;
    ctx.state.sessionId = current.sessionId;
    ctx.state.loginTs = current.loginTs;
    await next();
  };
}

/** True when the person signed in within `seconds` (sensitive changes need a fresh proof). */
export function signedInRecently(ctx: Context, seconds: number): boolean {
  return Date.now() / 1000 - Number(ctx.state.loginTs ?? 0) <= seconds;
}
