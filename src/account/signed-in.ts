import type { Context, Next } from 'koa';
import { AppError } from '../errors/app-error.js';
import type { InteractionDeps } from '../interactions/interaction-deps.js';
import { accountLoginUrl, currentAccount } from './account-session.js';

/**
 * Loads the signed-in account into ctx.state, or sends the person to sign in (GET) / refuses (POST).
 * A session past its idle timeout or lifetime counts as signed out; using one marks it active.
 */
export function requireSignedIn({ host, accounts, config, sessionService }: Pick<InteractionDeps, 'host' | 'accounts' | 'config'> & Partial<Pick<InteractionDeps, 'sessionService'>>) {
  const secure = config.issuer.startsWith('https://');
  return async (ctx: Context, next: Next) => {
    let current = await currentAccount(host, ctx);
    if (current && sessionService && await sessionService.expiry({ uid: current.sessionUid, jti: current.sessionId, ...current })) current = undefined;
    const account = current ? await accounts.findById(current.accountId) : null;
    if (!current || !account || account.disabledAt) {
      if (ctx.method !== 'GET') throw new AppError('login_required', 401, 'Sign in again to continue.');
      return ctx.redirect(accountLoginUrl(ctx, config.issuer, secure, ctx.path));
    }
    ctx.state.account = account;
    ctx.state.sessionId = current.sessionId;
    ctx.state.loginTs = current.loginTs;
    // What the sign-in proved, for pages that need a second factor (the admin console).
    ctx.state.amr = current.amr;
    ctx.state.acr = current.acr;
    await sessionService?.touch(current.sessionUid);
    await next();
  };
}

