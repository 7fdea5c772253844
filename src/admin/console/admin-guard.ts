import type { Context, Next } from 'koa';
import { accountLoginUrl } from '../../account/account-session.js';
import { requireSignedIn } from '../../account/signed-in.js';
import { AppError, ForbiddenError } from '../../errors/app-error.js';
import { tr } from '../../interactions/page-context.js';
import { acr } from '../../mfa/mfa-policy.js';
import { signInPassedSecondFactor } from '../../apis/privileged-api-policy.js';
import { adminRole } from '../api/admin-api.js';
import type { ConsoleDeps } from './console-kit.js';

/** The session proved a second factor at its sign-in, not just a "trusted device" pass (the privileged-API rule). */
export function passedSecondFactor(ctx: Context): boolean {
  return signInPassedSecondFactor(ctx.state.acr, ctx.state.amr);
}

/**
 * Lets through holders of the `admin` role whose session passed a second factor. Signed out: the
 * sign-in, back here. Signed in without the role: 403. An admin without a second factor in this
 * session: a step-up sign-in asking for one (acr_values), back here; a POST is refused instead.
 */
export function requireAdmin({ container, host }: ConsoleDeps) {
  const { config, accounts, sessionService } = container;
  const signedIn = requireSignedIn({ host, accounts, config, sessionService });
  const secure = config.issuer.startsWith('https://');
  return (ctx: Context, next: Next) => signedIn(ctx, async () => {
    const roles = await accounts.rolesOf(ctx.state.account.id);
    if (!roles.includes(adminRole)) throw new ForbiddenError('admin_required', tr(ctx, 'pages.admin.forbidden'));
    if (!passedSecondFactor(ctx)) {
      if (ctx.method !== 'GET') throw new AppError('step_up_required', 401, tr(ctx, 'pages.admin.step_up_required'));
      return ctx.redirect(accountLoginUrl(ctx, config.issuer, secure, ctx.path, false, { acrValues: acr.mfa }));
    }
    await next();
  });
}
