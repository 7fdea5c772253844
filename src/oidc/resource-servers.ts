import { errors, type AsymmetricSigningAlgorithm, type KoaContextWithOIDC } from 'oidc-provider';
import type { ApiConfig } from '../config/schema.js';

/**
 * Resource indicators (RFC 8707) for registered APIs: each yields JWT access tokens (RFC 9068)
 * whose scopes are limited to the permissions the API declares. Unknown resources are refused.
 */
export function createResourceServers(apis: ApiConfig[], defaultAlg: string, oidcScopes: readonly string[]) {
  const byIdentifier = new Map(apis.map((api) => [api.identifier, api]));
  return {
    async getResourceServerInfo(ctx: KoaContextWithOIDC, resourceIndicator: string) {
      const api = byIdentifier.get(resourceIndicator);
      if (!api) throw new errors.InvalidTarget(`unknown resource: ${resourceIndicator}`);
      // oidc-provider would silently drop scopes the API doesn't declare; refusing tells the client.
      const requested = String(ctx.oidc.params?.scope ?? '').split(' ').filter(Boolean);
      const undeclared = requested.filter((scope) => !oidcScopes.includes(scope) && !api.scopes.includes(scope));
      if (undeclared.length) throw new errors.InvalidScope(`scope not declared by ${api.identifier}`, undeclared.join(' '));
      return {
        scope: api.scopes.join(' '),
        audience: api.identifier,
        accessTokenTTL: api.accessTokenTtl,
        accessTokenFormat: 'jwt' as const,
        jwt: { sign: { alg: defaultAlg as AsymmetricSigningAlgorithm } },
      };
    },
    /** Only the resource the client asked for; no implicit default audience. */
    async defaultResource(_ctx: unknown, _client: unknown, oneOf?: readonly string[]) {
      return oneOf;
    },
    /** A refresh or code exchange without `resource` keeps the resource granted at authorisation. */
    async useGrantedResource() {
      return true;
    },
  };
}
