import type { AccountService } from '../accounts/account-service.js';

/** oidc-provider's findAccount: claims come from the account; a disabled account has none. */
export function createFindAccount(accounts: AccountService) {
  return async (_ctx: unknown, sub: string) => {
    if (!/^[0-9a-f-]{36}$/i.test(sub)) return undefined;
    const account = await accounts.findById(sub);
    if (!account || account.disabledAt) return undefined;
    return {
      accountId: account.id,
      async claims() {
        return { sub: account.id, email: account.email, email_verified: account.emailVerified, ...(account.name ? { name: account.name } : {}) };
      },
    };
  };
}
