import type { Configuration } from 'oidc-provider';
import { rolesForRequest } from './request-memo.js';
import type { RoleLookup } from './resource-servers.js';

type TokenLike = { accountId?: string; clientId?: string; scope?: string; resourceServer?: { identifier(): string }; apiKeyOwnerClientId?: string };

/**
 * oidc-provider's extraTokenClaims: an access token for a registered API carries the subject's
 * `roles` (the account's, or for client credentials the client's) and the `permissions` among
 * its granted scopes that those roles allow (RFC 9068 §2.2.3.1). Tokens for userinfo carry none.
 */
export function createTokenClaims(lookup: RoleLookup): NonNullable<Configuration['extraTokenClaims']> {
  return async (ctx, token) => {
    const { accountId, clientId, scope, resourceServer, apiKeyOwnerClientId } = token as unknown as TokenLike;
    if (!resourceServer) return undefined;
    // getResourceServerInfo read the same roles and permissions moments ago in this request.
    const roles = rolesForRequest(ctx, lookup);
    // A service API key exchanged for a token (api-key-exchange.ts): its subject is the owning client, not an account.
    const held = apiKeyOwnerClientId ? await roles.rolesForClient(apiKeyOwnerClientId)
      : accountId ? await roles.rolesForAccount(accountId) : clientId ? await roles.rolesForClient(clientId) : [];
    const permitted = new Set(await roles.permissionsFor(held, resourceServer.identifier()));
    return { roles: held, permissions: (scope ?? '').split(' ').filter((granted) => permitted.has(granted)) };
  };
}
