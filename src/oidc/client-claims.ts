import { errors, type KoaContextWithOIDC } from 'oidc-provider';
import { defaultIdTokenClaims, idTokenClaimNames } from '../clients/client-claims.js';

/**
 * Per-client claim settings, carried as extra client metadata (client-service.ts toOidcMetadata):
 * `allowed_scopes` (absent: any scope) and `id_token_claims` (the claims of granted scopes that
 * the ID token carries as well as userinfo).
 */
export const clientClaimProperties = ['allowed_scopes', 'id_token_claims'] as const;

type ClaimMetadata = { allowed_scopes?: unknown; id_token_claims?: unknown };

const isStringList = (value: unknown): value is string[] => Array.isArray(value) && value.every((item) => typeof item === 'string');

/** extraClientMetadata.validator for the two properties; the service validated them already. */
export function validateClientClaimProperty(key: string, value: unknown): void {
  if (!isStringList(value)) throw new Error(`${key} must be a list of strings`);
  if (key === 'id_token_claims' && value.some((claim) => !(idTokenClaimNames as readonly string[]).includes(claim))) {
    throw new Error(`${key} may only name ${idTokenClaimNames.join(', ')}`);
  }
}

/**
 * Refuses (invalid_scope, RFC 6749 §3.3 / §5.2) a requested scope the client may not ask for.
 * oidc-provider's own `scope` client metadata would restrict OIDC scopes only, never an API's;
 * this one check covers both at the authorization, PAR, device and token endpoints, because it
 * runs in the resource-indicator hooks every such request passes through (see withClientScopes).
 */
export function refuseScopesOutsideClient(ctx: KoaContextWithOIDC, requested = String(ctx.oidc.params?.scope ?? '').split(' ').filter(Boolean)): void {
  const allowed = (ctx.oidc.client as ClaimMetadata | undefined)?.allowed_scopes;
  if (!isStringList(allowed)) return;
  const refused = requested.filter((scope) => !allowed.includes(scope));
  if (refused.length) throw new errors.InvalidScope('scope not allowed for this client', refused.join(' '));
}

type ResourceHooks = {
  getResourceServerInfo(ctx: KoaContextWithOIDC, resourceIndicator: string, client: never): Promise<unknown>;
  defaultResource(ctx: KoaContextWithOIDC, client: never, oneOf?: readonly string[]): Promise<unknown>;
};

/**
 * Wraps the resource-indicator hooks so each checks the client's allowed scopes first: oidc-provider
 * calls `defaultResource` (no `resource`) or `getResourceServerInfo` (each `resource`) whenever a
 * request asks for scopes (shared/check_resource.js resolveRequestedResources).
 */
export function withClientScopes<T extends ResourceHooks>(hooks: T): T {
  return {
    ...hooks,
    getResourceServerInfo: async (ctx: KoaContextWithOIDC, resourceIndicator: string, client: never) => {
      refuseScopesOutsideClient(ctx);
      return hooks.getResourceServerInfo(ctx, resourceIndicator, client);
    },
    defaultResource: async (ctx: KoaContextWithOIDC, client: never, oneOf?: readonly string[]) => {
      refuseScopesOutsideClient(ctx);
      return hooks.defaultResource(ctx, client, oneOf);
    },
  };
}

/** The claim names the client's ID tokens carry beyond `sub`, `amr`, `acr` and the protocol claims. */
export function idTokenClaimsOf(client: unknown): readonly string[] {
  const configured = (client as ClaimMetadata | undefined)?.id_token_claims;
  return isStringList(configured) ? configured : defaultIdTokenClaims;
}

/**
 * Keeps, of an account's claims, those an ID token for `client` may carry: `sub` and the client's
 * `id_token_claims`. Applied in findAccount's `claims('id_token', …)`, since with
 * `conformIdTokenClaims: false` oidc-provider puts every granted scope's claims in the ID token
 * (OIDC Core §5.4 allows either); userinfo is never cut.
 */
export function idTokenView<T extends Record<string, unknown>>(claims: T, client: unknown): Partial<T> {
  const kept = new Set(['sub', ...idTokenClaimsOf(client)]);
  return Object.fromEntries(Object.entries(claims).filter(([name]) => kept.has(name))) as Partial<T>;
}
