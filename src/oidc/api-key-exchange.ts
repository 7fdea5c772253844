import { errors, type AsymmetricSigningAlgorithm, type Provider, type TokenEndpointGrantContext } from 'oidc-provider';
import { apiKeyTokenType } from '../api-keys/api-key-format.js';
import type { ApiKeyService } from '../api-keys/api-key-service.js';
import { tokenExchangeGrantType } from '../clients/client-service.js';
import { refuseScopesOutsideClient } from './client-claims.js';
import type { ApiLookup } from '../apis/api-registry.js';
import { privilegedAccessRefusal } from '../apis/privileged-api-policy.js';
import type { RoleLookup } from './resource-servers.js';

/** Exchanged tokens live at most this long, whatever the API's own lifetime. */
export const exchangedTokenMaxTtl = 300;

type ExchangeParams = { subject_token?: string; subject_token_type?: string; resource?: string | string[]; scope?: string };

export interface ApiKeyExchangeDeps {
  apiKeys: ApiKeyService; apis: ApiLookup; algorithm: string;
  /** The key owner's roles as they are now: an rbac API's scopes are re-evaluated at every exchange. */
  roles: RoleLookup;
}

/** Of `scopes`, those the owner's current roles allow on `api` (the key's own list was fixed at creation). */
type KeyOwner = { accountId: string | null; clientId: string | null };

async function permittedNow(roles: RoleLookup, key: KeyOwner, api: string, scopes: string[]): Promise<string[]> {
  const held = key.clientId ? await roles.rolesForClient(key.clientId)
    : key.accountId ? await roles.rolesForAccount(key.accountId) : [];
  const permitted = new Set(await roles.permissionsFor(held, api));
  return scopes.filter((scope) => permitted.has(scope));
}

/**
 * Registers RFC 8693 token exchange for API keys: a client presents a key as `subject_token`
 * and gets a short-lived RFC 9068 JWT access token whose `sub` is the key's owner. Only clients
 * whose metadata lists the grant may use it (service clients: client-service.ts toOidcMetadata).
 * The built-in admin API is never a target: admin API keys are presented to it directly, and
 * exchanging one would mint a token the admin role check (admin-auth.ts) never saw.
 * @see https://github.com/panva/node-oidc-provider/blob/main/lib/actions/grants/client_credentials.js
 */
export function registerApiKeyExchange(provider: Provider, deps: ApiKeyExchangeDeps): void {
  const { apiKeys, apis, algorithm, roles } = deps;
  provider.registerGrantType<ExchangeParams>(tokenExchangeGrantType, async (ctx: TokenEndpointGrantContext<ExchangeParams>) => {
    const { subject_token: subjectToken, subject_token_type: subjectTokenType, resource, scope } = ctx.oidc.params;
    if (!subjectToken) throw new errors.InvalidRequest('missing required parameter subject_token');
    // RFC 8693 §2.2.2: a subject token type we don't handle is an invalid_request.
    if (subjectTokenType !== apiKeyTokenType) throw new errors.InvalidRequest(`subject_token_type must be ${apiKeyTokenType}`);
    if (Array.isArray(resource)) throw new errors.InvalidTarget('only a single resource indicator value is supported for this grant type');
    const key = await apiKeys.verify(subjectToken, ctx.ip);
    if (!key) throw new errors.InvalidGrant('the API key is invalid, revoked or expired');
    if (key.api && resource && resource !== key.api) throw new errors.InvalidTarget('the API key is not for this resource');
    const target = key.api ?? resource;
    if (!target) throw new errors.InvalidTarget('resource is required for an API key bound to no API');
    const found = await apis.find(target);
    const api = found?.source === 'builtin' ? undefined : found;
    if (!api) throw new errors.InvalidTarget(`unknown resource: ${target}`);
    // The key is its own credential (no sign-in to check), but the exchanging client must be allowed.
    const refusal = privilegedAccessRefusal({ api, client: ctx.oidc.client, subject: { kind: 'api_key' } });
    if (refusal) throw new errors.InvalidTarget(refusal);
    const explicit = scope ? scope.split(' ').filter(Boolean) : undefined;
    let requested = explicit ?? key.scopes;
    const beyond = requested.filter((s) => !key.scopes.includes(s) || !api.scopes.includes(s));
    if (beyond.length) throw new errors.InvalidScope('scope exceeds what the API key grants', beyond.join(' '));
    if (api.rbac) {
      const allowed = await permittedNow(roles, key, api.identifier, requested);
      const lost = requested.filter((s) => !allowed.includes(s));
      // Asked for by name: say so. Taken from the key by default: the token gets what the roles still allow.
      if (explicit && lost.length) {
        throw new errors.InvalidScope('scope no longer allowed by the API key owner\'s roles', lost.join(' '));
      }
      requested = allowed;
    }
    // The exchanging client's own limit applies too, also to the key's scopes taken by default.
    refuseScopesOutsideClient(ctx, requested);

    const resourceServer = new provider.ResourceServer(api.identifier, {
      scope: api.scopes.join(' '), audience: api.identifier, accessTokenFormat: 'jwt',
      accessTokenTTL: Math.min(api.accessTokenTtl, exchangedTokenMaxTtl), jwt: { sign: { alg: algorithm as AsymmetricSigningAlgorithm } },
    });
    const token = new provider.AccessToken({
      // The JWT's sub: the owning account, or the owning service client.
      accountId: key.accountId ?? key.clientId!,
      client: ctx.oidc.client,
      scope: requested.join(' ') || undefined,
      gty: tokenExchangeGrantType,
      expiresIn: Math.min(api.accessTokenTtl, exchangedTokenMaxTtl),
      resourceServer,
    } as never);
    // Read by token-claims.ts: a service key's roles are its owning client's. Not persisted (not in IN_PAYLOAD).
    if (key.clientId) Object.assign(token, { apiKeyOwnerClientId: key.clientId });
    ctx.oidc.entity('AccessToken', token);
    const value = await token.save();
    ctx.body = {
      access_token: value,
      // RFC 8693 §2.2.1
      issued_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      token_type: token.tokenType,
      expires_in: token.expiration,
      scope: token.scope || undefined,
    };
  }, ['subject_token', 'subject_token_type', 'resource', 'scope', 'requested_token_type', 'audience', 'actor_token', 'actor_token_type']);
}
