import { errors, type AsymmetricSigningAlgorithm, type KoaContextWithOIDC } from 'oidc-provider';
import type { ApiLookup, RegisteredApi } from '../apis/api-registry.js';
import { privilegedAccessRefusal } from '../apis/privileged-api-policy.js';
import { rolesForRequest } from './request-memo.js';
import { tokenSubject } from './token-subject.js';

/** What tokens need to know about roles (rbac-service.ts). */
export interface RoleLookup {
  rolesForAccount(accountId: string): Promise<string[]>;
  rolesForClient(clientId: string): Promise<string[]>;
  permissionsFor(roleNames: readonly string[], api: string): Promise<string[]>;
}

type Entities = Record<string, { accountId?: string } | undefined>;

/**
 * The roles of whoever the token being asked for is about: the client for client credentials,
 * otherwise the account behind the code, refresh token, device code or session. Undefined while
 * nobody is known yet (an authorization request before sign-in).
 */
export async function subjectRoles(ctx: KoaContextWithOIDC, roles: RoleLookup): Promise<string[] | undefined> {
  if (ctx.oidc.params?.grant_type === 'client_credentials') return ctx.oidc.client ? roles.rolesForClient(ctx.oidc.client.clientId) : [];
  const entities = ctx.oidc.entities as unknown as Entities;
  const accountId = ['AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest', 'Session']
    .map((name) => entities[name]?.accountId).find(Boolean);
  return accountId ? roles.rolesForAccount(accountId) : undefined;
}

/** The scope tokens of a request's `scope` parameter. */
function requestedScopes(ctx: KoaContextWithOIDC): string[] {
  return String(ctx.oidc.params?.scope ?? '').split(' ').filter(Boolean);
}

/** The `resource` parameter as a list (RFC 8707 §2 allows it more than once). */
function requestedResources(ctx: KoaContextWithOIDC): string[] {
  const resource = ctx.oidc.params?.resource as string | string[] | undefined;
  return resource === undefined ? [] : Array.isArray(resource) ? resource : [resource];
}

/**
 * Resource indicators (RFC 8707) for registered APIs: each yields JWT access tokens (RFC 9068)
 * whose scopes are limited to the permissions the API declares, and for an `rbac` API to those
 * the subject's roles allow. Unknown resources and unknown scopes are refused. APIs come from the
 * registry (built-in, config, and registered at run time), so a change applies to the next token.
 */
export function createResourceServers(apis: ApiLookup, defaultAlg: string, oidcScopes: readonly string[], roles: RoleLookup) {

  /**
   * oidc-provider silently drops scopes nobody declares (check_resource.js filterStatics);
   * refusing tells the client (RFC 6749 §3.3, §5.2 invalid_scope).
   */
  function refuseUnknownScopes(ctx: KoaContextWithOIDC, declared: ReadonlySet<string>, what: string): void {
    const unknown = requestedScopes(ctx).filter((scope) => !oidcScopes.includes(scope) && !declared.has(scope));
    if (unknown.length) throw new errors.InvalidScope(`scope not declared by ${what}`, unknown.join(' '));
  }

  return {
    async getResourceServerInfo(ctx: KoaContextWithOIDC, resourceIndicator: string) {
      const api = await apis.find(resourceIndicator);
      if (!api) throw new errors.InvalidTarget(`unknown resource: ${resourceIndicator}`);
      // Every grant reaches a resource through here (authorization, PAR, device, code, refresh, client credentials).
      const refusal = privilegedAccessRefusal({ api, client: ctx.oidc.client, subject: tokenSubject(ctx) });
      if (refusal) throw new errors.InvalidTarget(refusal);
      // With several resources a scope may belong to any of them.
      const requested = (await Promise.all(requestedResources(ctx).map((identifier) => apis.find(identifier))))
        .filter((found): found is RegisteredApi => found !== undefined);
      const declared = new Set([...api.scopes, ...requested.flatMap((other) => other.scopes)]);
      refuseUnknownScopes(ctx, declared, requested.length > 1 ? 'the requested resources' : api.identifier);
      let scopes = api.scopes;
      if (api.rbac) {
        // Memoised per request: extraTokenClaims asks the same questions for this token.
        const perRequest = rolesForRequest(ctx, roles);
        const held = await subjectRoles(ctx, perRequest);
        if (held) {
          const permitted = new Set(await perRequest.permissionsFor(held, api.identifier));
          scopes = scopes.filter((scope) => permitted.has(scope));
        }
      }
      return {
        scope: scopes.join(' '),
        audience: api.identifier,
        accessTokenTTL: api.accessTokenTtl,
        accessTokenFormat: 'jwt' as const,
        jwt: { sign: { alg: defaultAlg as AsymmetricSigningAlgorithm } },
      };
    },
    /**
     * Only the resource the client asked for; no implicit default audience. Called without
     * `oneOf` when a request names no resource, so only OIDC scopes may be requested then.
     */
    async defaultResource(ctx: KoaContextWithOIDC, _client: unknown, oneOf?: readonly string[]) {
      if (oneOf === undefined) refuseUnknownScopes(ctx, new Set(), 'any requested resource (send resource=<API identifier>)');
      return oneOf;
    },
    /** A refresh or code exchange without `resource` keeps the resource granted at authorisation. */
    async useGrantedResource() {
      return true;
    },
  };
}
