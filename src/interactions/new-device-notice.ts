import type { Context } from 'koa';
import type { InteractionDeps } from './interaction-deps.js';
import { flowContext } from './page-context.js';

type NewDeviceDeps = Pick<InteractionDeps, 'config' | 'accounts' | 'knownDevices' | 'securityNotices'>;

/**
 * Config `notifications.newDeviceSignIn`: after a successful sign-in from a browser without this
 * account's device cookie (src/sessions/known-devices.ts), emails the owner and gives the browser
 * one, so the next sign-in there is quiet. Call it before the interaction is finished: the
 * cookie must be on the response that ends the sign-in.
 */
export function createNewDeviceNotice(deps: NewDeviceDeps) {
  const { config, accounts, knownDevices, securityNotices } = deps;
  return async (ctx: Context, accountId: string, clientId?: string): Promise<void> => {
    if (!config.notifications.newDeviceSignIn || knownDevices.isKnown(ctx, accountId)) return;
    const account = await accounts.findById(accountId);
    if (!account) return;
    knownDevices.remember(ctx, accountId);
    securityNotices.newDeviceSignIn(account.email, flowContext(ctx, clientId));
  };
}
