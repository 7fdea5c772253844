import type { AccountService } from '../accounts/account-service.js';
import { idTokenView } from './client-claims.js';
import { memoRolesOf } from './request-memo.js';

type OidcContext = { oidc?: { client?: unknown } };

/** oidc-provider's findAccount: claims come from the account; a disabled account has none. */
export function createFindAccount(accounts: AccountService) {
  return async (ctx: unknown, sub: string) => {
    if (!/^[0-9a-f-]{36}$/i.test(sub)) return undefined;
    const account = await accounts.findById(sub);
    if (!account || account.disabledAt) return undefined;
    return {
      accountId: account.id,
      /**
       * `scope` is every granted scope; roles are given only for the roles scope. oidc-provider
       * masks the rest by scope; an ID token keeps only the client's id_token_claims (client-claims.ts).
       */
      async claims(use: string, scope: string) {
        const roles = scope.split(' ').includes('roles') ? { roles: await memoRolesOf(ctx, 'account', account.id, () => accounts.rolesOf(account.id)) } : {};
        const claims = { sub: account.id, email: account.email, email_verified: account.emailVerified, ...(account.name ? { name: account.name } : {}), ...roles };
        return use === 'id_token' ? { sub: account.id, ...idTokenView(claims, (ctx as OidcContext).oidc?.client) } : claims;
      },
    };
  };
}
