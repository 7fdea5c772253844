/**
 * The protocol-engine ceiling: a bare oidc-provider with its in-memory adapter, no database, no
 * Redis, no Koa app around it, serving the same clients with the same key algorithm. What
 * Portcullis reaches on the scenarios both can serve is read against what this reaches.
 * Runs as a child of bench/run.ts: settings in BENCH_CEILING (JSON), answers over IPC.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair } from 'jose';
import Provider, { errors, type AsymmetricSigningAlgorithm, type KoaContextWithOIDC } from 'oidc-provider';

export interface CeilingSettings {
  algorithm: 'RS256' | 'ES256' | 'EdDSA';
  service: { clientId: string; secret: string };
  web: { clientId: string; secret: string; redirectUri: string };
  api: { identifier: string; scopes: string[]; accessTokenTtl: number };
}

export type CeilingRequest = { id: number; type: 'mint-userinfo-token' };
export type CeilingReply = { type: 'ready'; origin: string } | { id: number; token?: string; error?: string };

const settings = JSON.parse(process.env.BENCH_CEILING ?? 'null') as CeilingSettings | null;
if (!settings || !process.send) throw new Error('bench/ceiling-provider.ts runs as a child of bench/run.ts (IPC, BENCH_CEILING)');

const accountId = '00000000-0000-4000-8000-000000000001';
const { privateKey } = await generateKeyPair(settings.algorithm, { extractable: true, ...(settings.algorithm === 'RS256' ? { modulusLength: 2048 } : {}) });
const jwk = { ...(await exportJWK(privateKey)), alg: settings.algorithm, use: 'sig', kid: 'ceiling' };

const server = http.createServer();
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

// The same protocol choices as src/oidc/configuration.ts, minus everything that needs storage.
const provider = new Provider(origin, {
  clients: [
    { client_id: settings.service.clientId, client_secret: settings.service.secret, grant_types: ['client_credentials'], response_types: [], redirect_uris: [], token_endpoint_auth_method: 'client_secret_basic' },
    { client_id: settings.web.clientId, client_secret: settings.web.secret, grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], redirect_uris: [settings.web.redirectUri], token_endpoint_auth_method: 'client_secret_basic' },
  ],
  jwks: { keys: [jwk] },
  findAccount: async (_ctx, sub) => ({
    accountId: sub,
    claims: async () => ({ sub, email: 'ceiling@bench.example', email_verified: true, name: 'Ceiling' }),
  }),
  claims: { acr: null, auth_time: null, sid: null, iss: null, openid: ['sub', 'amr', 'acr', 'roles'], email: ['email', 'email_verified'], profile: ['name'], roles: ['roles'] },
  scopes: ['openid', 'offline_access', 'email', 'profile', 'roles'],
  responseTypes: ['code'],
  pkce: { required: () => true },
  rotateRefreshToken: true,
  cookies: { keys: ['ceiling-cookie-key-ceiling-cookie-key-0000'] },
  clientDefaults: { grant_types: ['authorization_code'], response_types: ['code'], token_endpoint_auth_method: 'client_secret_basic', id_token_signed_response_alg: settings.algorithm },
  features: {
    devInteractions: { enabled: false },
    introspection: { enabled: true } as never,
    revocation: { enabled: true },
    userinfo: { enabled: true },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => undefined as unknown as string,
      useGrantedResource: () => false,
      async getResourceServerInfo(_ctx: KoaContextWithOIDC, indicator: string) {
        if (indicator !== settings.api.identifier) throw new errors.InvalidTarget();
        return {
          scope: settings.api.scopes.join(' '), audience: indicator, accessTokenTTL: settings.api.accessTokenTtl,
          accessTokenFormat: 'jwt' as const, jwt: { sign: { alg: settings.algorithm as AsymmetricSigningAlgorithm } },
        };
      },
    },
  },
  ttl: { AccessToken: 600, ClientCredentials: 600, IdToken: 3600, AuthorizationCode: 60, RefreshToken: 1_209_600, Interaction: 3600, Session: 86_400, Grant: 1_209_600 },
});
server.on('request', provider.callback());

/**
 * An opaque access token for the account, as a code exchange would leave it. Minted on demand:
 * the memory adapter keeps only the 1,000 newest entries, so a token minted before a load run
 * that issues tokens would be gone by the time userinfo is measured.
 */
async function mintUserinfoToken(): Promise<string> {
  const scope = 'openid email profile';
  const grant = new provider.Grant({ accountId, clientId: settings!.web.clientId });
  grant.addOIDCScope(scope);
  const grantId = await grant.save();
  const client = await provider.Client.find(settings!.web.clientId);
  if (!client) throw new Error('the web client is not registered');
  const token = new provider.AccessToken({ accountId, client, grantId, scope, gty: 'authorization_code' });
  return token.save();
}

process.on('message', (message: CeilingRequest) => {
  if (message.type !== 'mint-userinfo-token') return;
  mintUserinfoToken().then(
    (token) => process.send!({ id: message.id, token } satisfies CeilingReply),
    (error: unknown) => process.send!({ id: message.id, error: error instanceof Error ? error.message : String(error) } satisfies CeilingReply),
  );
});
process.on('disconnect', () => process.exit(0));
// Nothing to flush: all state is in memory.
process.on('SIGTERM', () => process.exit(0));
process.send({ type: 'ready', origin } satisfies CeilingReply);
