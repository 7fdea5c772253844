import type { Configuration, KoaContextWithOIDC } from 'oidc-provider';
import type { ApiLookup } from '../apis/api-registry.js';
import { rolesForRequest } from './request-memo.js';
import type { RoleLookup } from './resource-servers.js';
import { tokenSubject } from './token-subject.js';

type TokenLike = { accountId?: string; clientId?: string; scope?: string; resourceServer?: { identifier(): string }; apiKeyOwnerClientId?: string };

/**
 * A privileged API re-checks on every call how the token's person signed in (admin-auth.ts), so
 * its user-delegated tokens carry the grant's `acr` and `amr` (RFC 9068 §2.2.1, OIDC Core §2).
 */
function signInClaims(ctx: KoaContextWithOIDC): { acr?: unknown; amr?: unknown } {
  const subject = tokenSubject(ctx);
  if (subject.kind !== 'account') return {};
  return {
    ...(subject.acr !== undefined ? { acr: subject.acr } : {}),
    ...(subject.amr !== undefined ? { amr: subject.amr } : {}),
  };
}

/**
 * oidc-provider's extraTokenClaims: an access token for a registered API carries the subject's
 * `roles` (the account's, or for client credentials the client's) and the `permissions` among
 * its granted scopes that those roles allow (RFC 9068 §2.2.3.1). Tokens for userinfo carry none.
 * Tokens for a privileged API also carry the sign-in's `acr`/`amr` (`client_id` is always there).
 */
export function createTokenClaims(lookup: RoleLookup, apis: ApiLookup): NonNullable<Configuration['extraTokenClaims']> {
  return async (ctx, token) => {
    const { accountId, clientId, scope, resourceServer, apiKeyOwnerClientId } = token as unknown as TokenLike;
    if (!resourceServer) return undefined;
    // getResourceServerInfo read the same roles and permissions moments ago in this request.
    const roles = rolesForRequest(ctx, lookup);
    // A service API key exchanged for a token (api-key-exchange.ts): its subject is the owning client, not an account.
    const held = apiKeyOwnerClientId ? await roles.rolesForClient(apiKeyOwnerClientId)
      : accountId ? await roles.rolesForAccount(accountId) : clientId ? await roles.rolesForClient(clientId) : [];
    const permitted = new Set(await roles.permissionsFor(held, resourceServer.identifier()));
    const privileged = (await apis.find(resourceServer.identifier()))?.privileged === true;
    return {
      roles: held, permissions: (scope ?? '').split(' ').filter((granted) => permitted.has(granted)),
      ...(privileged ? signInClaims(ctx) : {}),
    };
  };
}
