import type { ApiConfig } from '../../config/schema.js';
import type { RoleLookup } from '../../oidc/resource-servers.js';

/** The scopes of Portcullis's own admin API; `admin:write` implies nothing, each is checked on its own. */
export const adminScopes = ['admin:read', 'admin:write'] as const;
export type AdminScope = (typeof adminScopes)[number];

/** The role whose holders (accounts or service clients) may get admin scopes. */
export const adminRole = 'admin';

/** The resource indicator (RFC 8707) of the admin API: `${issuer}/admin/api`. */
export function adminApiIdentifier(issuer: string): string {
  return `${issuer.replace(/\/$/, '')}/admin/api`;
}

/** The admin API as a registered resource server, so Portcullis can issue JWT access tokens for it; privileged. */
export function adminApi(issuer: string): ApiConfig {
  return {
    identifier: adminApiIdentifier(issuer), name: 'Portcullis admin API', scopes: [...adminScopes], accessTokenTtl: 600,
    rbac: true,
    privileged: true,
  };
}

/**
 * Role lookups where the admin API's permissions come from the `admin` role, not from grants in
 * the roles table: holders of `admin` get every admin scope, everybody else none.
 */
export function withAdminRole(roles: RoleLookup, issuer: string): RoleLookup {
  const identifier = adminApiIdentifier(issuer);
  return {
    rolesForAccount: (accountId) => roles.rolesForAccount(accountId),
    rolesForClient: (clientId) => roles.rolesForClient(clientId),
    permissionsFor: async (roleNames, api) => api === identifier
      ? (roleNames.includes(adminRole) ? [...adminScopes] : [])
      : roles.permissionsFor(roleNames, api),
  };
}
