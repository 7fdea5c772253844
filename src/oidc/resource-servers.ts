import { errors, type AsymmetricSigningAlgorithm } from 'oidc-provider';
import type { ApiConfig } from '../config/schema.js';

/**
 * Resource indicators (RFC 8707) for registered APIs: each yields JWT access tokens (RFC 9068)
 * whose scopes are limited to the permissions the API declares. Unknown resources are refused.
 */
export function createResourceServers(apis: ApiConfig[], defaultAlg: string) {
  const byIdentifier = new Map(apis.map((api) => [api.identifier, api]));
  return {
    async getResourceServerInfo(_ctx: unknown, resourceIndicator: string) {
      const api = byIdentifier.get(resourceIndicator);
      if (!api) throw new errors.InvalidTarget(`unknown resource: ${resourceIndicator}`);
      return {
        scope: api.scopes.join(' '),
        audience: api.identifier,
        accessTokenTTL: api.accessTokenTtl,
        accessTokenFormat: 'jwt' as const,
        jwt: { sign: { alg: (api.signingAlg ?? defaultAlg) as AsymmetricSigningAlgorithm } },
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
