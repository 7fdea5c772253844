import type { Configuration, KoaContextWithOIDC } from 'oidc-provider';
import type { ResolvedConfig } from '../config/schema.js';
import type { Renderer } from '../http/render.js';
import { accountClientMetadata } from '../account/account-session.js';
import { translator } from '../i18n/i18n.js';
import { acr } from '../mfa/mfa-policy.js';
import { createInteractionPolicy } from './interaction-policy.js';
import { createResourceServers } from './resource-servers.js';

export interface ConfigurationDeps {
  config: ResolvedConfig;
  adapter: Configuration['adapter'];
  findAccount: Configuration['findAccount'];
  jwks: Configuration['jwks'];
  render: Renderer;
}

/** The declarative oidc-provider configuration: production settings only, nothing for development. */
export function buildConfiguration({ config, adapter, findAccount, jwks, render }: ConfigurationDeps): Configuration {
  const https = config.issuer.startsWith('https://');
  const scopes = ['openid', 'offline_access', 'email', 'profile'];
  const resourceServers = createResourceServers(config.apis, config.keys.algorithm, scopes);
  const cookie = { httpOnly: true, sameSite: 'lax' as const, secure: https, signed: true };

  return {
    adapter,
    findAccount,
    jwks,
    clients: [accountClientMetadata(config.issuer, config.branding.productName)],
    // amr and acr ride on the openid scope so every ID token says how the person signed in (RFC 8176).
    claims: { acr: null, auth_time: null, sid: null, iss: null, openid: ['sub', 'amr', 'acr'], email: ['email', 'email_verified'], profile: ['name'] },
    scopes,
    responseTypes: ['code'],
    pkce: { required: () => true },
    rotateRefreshToken: true,
    cookies: {
      keys: config.secrets.cookieKeys,
      long: cookie,
      short: cookie,
      names: https
        ? { session: '__Host-pcl.session', interaction: '__Secure-pcl.interaction', resume: '__Secure-pcl.resume' }
        : { session: 'pcl.session', interaction: 'pcl.interaction', resume: 'pcl.resume' },
    },
    clientDefaults: {
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: config.keys.algorithm,
    },
    extraClientMetadata: {
      properties: ['first_party', 'allow_unverified_email', 'require_mfa'],
      validator(_ctx, key, value) {
        if (value !== undefined && typeof value !== 'boolean') throw new Error(`${key} must be a boolean`);
      },
    },
    features: {
      devInteractions: { enabled: false },
      // @types/oidc-provider models introspection as a disabled-only feature; the runtime accepts it.
      introspection: { enabled: true } as never,
      revocation: { enabled: true },
      userinfo: { enabled: true },
      clientCredentials: { enabled: true },
      resourceIndicators: { enabled: true, ...resourceServers },
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
    interactions: { policy: createInteractionPolicy({ requireVerifiedEmail: config.accounts.requireVerifiedEmail }), url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    acrValues: [acr.password, acr.mfa],
    ttl: {
      AuthorizationCode: config.ttl.authorizationCode,
      AccessToken: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? config.ttl.accessToken,
      ClientCredentials: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? config.ttl.clientCredentials,
      IdToken: config.ttl.idToken,
      RefreshToken: config.ttl.refreshToken,
      Interaction: config.ttl.interaction,
      // Remember me: a persistent cookie for rememberMeDays; otherwise the cookie ends with the browser.
      Session: (_ctx, session) => (session.transient ? config.ttl.session : config.accounts.rememberMeDays * 86_400),
      Grant: config.ttl.grant,
    },
    async renderError(ctx: KoaContextWithOIDC, out, error) {
      const status = (error as { statusCode?: number }).statusCode ?? 500;
      const t = translator(ctx.state.locale ?? config.branding.defaultLocale);
      await render(ctx, 'error', {
        title: t('pages.error.title'), heading: t(status >= 500 ? 'pages.error.heading_server' : 'pages.error.heading_client'),
        message: out.error_description ?? out.error, requestId: ctx.state.requestId,
      }, ctx.status);
    },
  };
}
