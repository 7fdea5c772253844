import type { AccountService } from '../accounts/account-service.js';

/** oidc-provider's findAccount: claims come from the account; a disabled account has none. */
export function createFindAccount(accounts: AccountService) {
  return async (_ctx: unknown, sub: string) => {
    if (!/^[0-9a-f-]{36}$/i.test(sub)) return undefined;
    const account = await accounts.findById(sub);
    if (!account || account.disabledAt) return undefined;
    return {
      accountId: account.id,
      /**
       * `scope` is every granted scope, even for an ID token masked to openid; roles are given only
       * for the roles scope, which is what keeps them out otherwise (see `claims` in configuration.ts).
       */
      async claims(_use: string, scope: string) {
        const roles = scope.split(' ').includes('roles') ? { roles: await accounts.rolesOf(account.id) } : {};
        return { sub: account.id, email: account.email, email_verified: account.emailVerified, ...(account.name ? { name: account.name } : {}), ...roles };
      },
    };
  };
}
