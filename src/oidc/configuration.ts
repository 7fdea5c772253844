import type { Configuration, KoaContextWithOIDC } from 'oidc-provider';
import type { ResolvedConfig } from '../config/schema.js';
import type { Renderer } from '../http/render.js';
import type { ErrorResponder } from '../http/error-renderer.js';
import { accountClientMetadata } from '../account/account-session.js';
import { translator } from '../i18n/i18n.js';
import { acr } from '../mfa/mfa-policy.js';
import { deviceFlowPages } from './device-flow-pages.js';
import { createInteractionPolicy } from './interaction-policy.js';
import { createResourceServers, type RoleLookup } from './resource-servers.js';
import { createTokenClaims } from './token-claims.js';
import { clientClaimProperties, validateClientClaimProperty, withClientScopes } from './client-claims.js';
import { withAdminRole } from '../admin/api/admin-api.js';
import type { ApiLookup } from '../apis/api-registry.js';
import { bitsOfOpaqueRandomness } from './token-id-shapes.js';
import { privilegedClientProperty } from '../apis/privileged-api-policy.js';
import { registrableAuthMethods } from '../clients/client-service.js';

const clientTtlProperties = ['access_token_ttl', 'id_token_ttl', 'refresh_token_ttl', 'refresh_token_idle_ttl', 'session_idle_ttl'] as const;

/** A client's own lifetime for a token kind (client-service.ts toOidcMetadata), if it has one. */
function clientTtl(client: unknown, key: (typeof clientTtlProperties)[number]): number | undefined {
  const value = (client as Record<string, unknown> | undefined)?.[key];
  return typeof value === 'number' ? value : undefined;
}

const loopbackHosts = new Set(['localhost', '127.0.0.1', '[::1]']);

/** fetch without oidc-provider's SSRF dispatcher for loopback URLs only (development and tests). */
function loopbackFriendlyFetch(url: string | URL | Request, options?: RequestInit): Promise<Response> {
  const target = url instanceof Request ? url.url : url;
  if (!options || !loopbackHosts.has(new URL(target).hostname)) return fetch(url, options);
  const { dispatcher: _ssrfGuard, ...rest } = options as RequestInit & { dispatcher?: unknown };
  return fetch(url, rest);
}

export interface ConfigurationDeps {
  config: ResolvedConfig;
  adapter: Configuration['adapter'];
  findAccount: Configuration['findAccount'];
  jwks: Configuration['jwks'];
  render: Renderer;
  /** Roles and their permissions, for the `roles` claim of API access tokens. */
  roles: RoleLookup;
  /** The APIs tokens can be issued for (resource indicators): built-in, config and registered. */
  apis: ApiLookup;
  /** The app's one error renderer (error-renderer.ts): oidc-provider's error pages go through it. */
  respondWithError?: ErrorResponder;
}

/** The declarative oidc-provider configuration: production settings only, nothing for development. */
export function buildConfiguration({
  config, adapter, findAccount, jwks, render, roles: configuredRoles, apis, respondWithError,
}: ConfigurationDeps): Configuration {
  const https = config.issuer.startsWith('https://');
  const scopes = ['openid', 'offline_access', 'email', 'profile', 'roles'];
  // Portcullis protects its own admin API with its own tokens; only the `admin` role gets its scopes.
  const roles = withAdminRole(configuredRoles, config.issuer);
  const resourceServers = createResourceServers(apis, config.keys.algorithm, scopes, roles);
  const cookie = { httpOnly: true, sameSite: 'lax' as const, secure: https, signed: true };

  return {
    adapter,
    findAccount,
    jwks,
    clients: [accountClientMetadata(config.issuer, config.branding.productName)],
    // amr and acr ride on the openid scope so every ID token says how the person signed in (RFC 8176).
    claims: { acr: null, auth_time: null, sid: null, iss: null, openid: ['sub', 'amr', 'acr'], email: ['email', 'email_verified'], profile: ['name'], roles: ['roles'] },
    // ID tokens may carry every granted scope's claims (OIDC Core §5.4 allows it); findAccount
    // (find-account.ts) then keeps only the client's id_token_claims (client-claims.ts idTokenView),
    // `roles` by default. With the default `true` the code flow's ID tokens would carry none.
    conformIdTokenClaims: false,
    scopes,
    // RFC 9068 §2.2.3.1: an API's JWT access token says which roles and permissions it carries.
    extraTokenClaims: createTokenClaims(roles, apis),
    responseTypes: ['code'],
    // oidc-provider's fetch refuses private and loopback addresses (SSRF). Outside production a
    // loopback relying party may still receive logout tokens, as its redirect URIs may be loopback.
    ...(config.nodeEnv === 'production' ? {} : { fetch: loopbackFriendlyFetch }),
    pkce: { required: () => true },
    rotateRefreshToken: true,
    // Access and refresh token values differ in length, so a lookup skips the store that can't hold one.
    formats: { bitsOfOpaqueRandomness },
    cookies: {
      keys: config.secrets.cookieKeys,
      long: cookie,
      short: cookie,
      names: https
        ? { session: '__Host-pcl.session', interaction: '__Secure-pcl.interaction', resume: '__Secure-pcl.resume' }
        : { session: 'pcl.session', interaction: 'pcl.interaction', resume: 'pcl.resume' },
    },
    // Only the methods clients can register: oidc-provider accepts client_secret_post for a client
    // registered with client_secret_basic (and the reverse) while both are enabled (shared/client_auth.js).
    clientAuthMethods: [...registrableAuthMethods],
    clientDefaults: {
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: config.keys.algorithm,
    },
    extraClientMetadata: {
      properties: ['first_party', 'allow_unverified_email', 'require_mfa', 'refresh_token_grace_seconds',
        ...clientTtlProperties, ...clientClaimProperties,
        privilegedClientProperty],
      validator(_ctx, key, value) {
        if (value === undefined) return;
        if ((clientClaimProperties as readonly string[]).includes(key)) validateClientClaimProperty(key, value);
        else if ((clientTtlProperties as readonly string[]).includes(key)) {
          if (!Number.isInteger(value) || (value as number) < 1) throw new Error(`${key} must be a positive integer`);
        } else if (key === 'refresh_token_grace_seconds') {
          if (!Number.isInteger(value) || (value as number) < 0 || (value as number) > 30) throw new Error(`${key} must be 0 to 30`);
        } else if (typeof value !== 'boolean') throw new Error(`${key} must be a boolean`);
      },
    },
    features: {
      devInteractions: { enabled: false },
      // @types/oidc-provider models introspection as a disabled-only feature; the runtime accepts it.
      introspection: {
        enabled: true,
        // A client learns about its own tokens; only clients named as resource servers may introspect others'.
        async allowedPolicy(_ctx: KoaContextWithOIDC, client: { clientId: string }, token: { clientId?: string }) {
          return token.clientId === client.clientId || config.introspection.resourceServers.includes(client.clientId);
        },
      } as never,
      revocation: { enabled: true },
      userinfo: { enabled: true },
      clientCredentials: { enabled: true },
      // A client's allowed_scopes are checked in the same hooks (client-claims.ts withClientScopes).
      resourceIndicators: { enabled: true, ...withClientScopes(resourceServers) },
      // OIDC Back-Channel Logout 1.0: logout tokens on RP-initiated logout (session-revoker.ts sends ours).
      backchannelLogout: { enabled: true },
      // RFC 9449: a public client's refresh tokens are bound to the key of its proof; dpop_bound_access_tokens requires one.
      dPoP: { enabled: true },
      // RFC 9126; require_pushed_authorization_requests is per client.
      pushedAuthorizationRequests: { enabled: true, requirePushedAuthorizationRequests: false },
      // RFC 8628 for native clients registered with --device-flow; our pages, oidc-provider's forms.
      deviceFlow: { enabled: true, charset: 'base-20', mask: '****-****', ...deviceFlowPages(config, render) },
      rpInitiatedLogout: {
        enabled: true,
        async logoutSource(ctx, form) {
          await render(ctx, 'interaction/logout', { title: translator(ctx.state.locale ?? config.branding.defaultLocale)('pages.logout.title'), form, clientName: ctx.oidc.client?.clientName });
        },
        async postLogoutSuccessSource(ctx) {
          await render(ctx, 'interaction/logged-out', { title: translator(ctx.state.locale ?? config.branding.defaultLocale)('pages.logged_out.title'), clientName: ctx.oidc.client?.clientName });
        },
      },
    },
    interactions: {
      policy: createInteractionPolicy({ requireVerifiedEmail: config.accounts.requireVerifiedEmail, apis }),
      url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
    },
    acrValues: [acr.password, acr.mfa],
    ttl: {
      AuthorizationCode: config.ttl.authorizationCode,
      // An API's lifetime wins over the client's, which wins over the global one.
      AccessToken: (_ctx, token, client) => token.resourceServer?.accessTokenTTL ?? clientTtl(client, 'access_token_ttl') ?? config.ttl.accessToken,
      ClientCredentials: (_ctx, token, client) => token.resourceServer?.accessTokenTTL ?? clientTtl(client, 'access_token_ttl') ?? config.ttl.clientCredentials,
      IdToken: (_ctx, _token, client) => clientTtl(client, 'id_token_ttl') ?? config.ttl.idToken,
      // Absolute: a rotated token keeps the first one's iiat, so the chain ends when the first token would have.
      RefreshToken: (_ctx, token, client) => {
        const ttl = clientTtl(client, 'refresh_token_ttl') ?? config.ttl.refreshToken;
        const remaining = Math.max(1, ttl - ((token as { totalLifetime?: () => number }).totalLifetime?.() ?? 0));
        // Idle: each rotation restarts the idle clock, so an unused token dies before the chain's absolute end.
        return Math.min(remaining, clientTtl(client, 'refresh_token_idle_ttl') ?? config.ttl.refreshTokenIdle);
      },
      Interaction: config.ttl.interaction,
      // Remember me: a persistent cookie for rememberMeDays; otherwise the cookie ends with the browser.
      Session: (_ctx, session) => (session.transient ? config.ttl.session : config.accounts.rememberMeDays * 86_400),
      Grant: config.ttl.grant,
      // RFC 8628 §3.2 leaves it to the server; ten minutes to reach a browser and sign in.
      DeviceCode: 600,
    },
    async renderError(ctx: KoaContextWithOIDC, out, error) {
      if (respondWithError) {
        await respondWithError(ctx, error);
        return;
      }
      const status = (error as { statusCode?: number }).statusCode ?? 500;
      const t = translator(ctx.state.locale ?? config.branding.defaultLocale);
      await render(ctx, 'error', {
        title: t('pages.error.title'), heading: t(status >= 500 ? 'pages.error.heading_server' : 'pages.error.heading_client'),
        message: out.error_description ?? out.error, requestId: ctx.state.requestId,
      }, ctx.status);
    },
  };
}
