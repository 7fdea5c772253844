import { EntitySchema } from 'typeorm';

export const clientTypes = ['web', 'spa', 'native', 'service'] as const;
export type ClientType = (typeof clientTypes)[number];

export interface Client {
  clientId: string;
  name: string;
  type: ClientType;
  /** Sealed with the key-encryption key; oidc-provider compares secrets itself, so a hash won't do. */
  secretEncrypted: string | null;
  redirectUris: string[];
  postLogoutRedirectUris: string[];
  firstParty: boolean;
  /** Lets accounts whose email is not yet verified finish a sign-in to this client. */
  allowUnverifiedEmail: boolean;
  /** Every sign-in for this client needs a second factor. */
  requireMfa: boolean;
  /** Where logout tokens are POSTed (OIDC Back-Channel Logout 1.0); https except loopback. */
  backchannelLogoutUri: string | null;
  /** Logout tokens carry the session's `sid`. */
  backchannelLogoutSessionRequired: boolean;
  /** Lifetimes in seconds overriding the global ttl section; null keeps the global one. */
  accessTokenTtl: number | null;
  idTokenTtl: number | null;
  refreshTokenTtl: number | null;
  /** A refresh token unused this long expires, even before its absolute lifetime. */
  refreshTokenIdleTtl: number | null;
  /** Seconds a rotated refresh token still works, for a retry that lost its response (0–30). */
  refreshTokenGraceSeconds: number;
  /** This client's sign-ins need a session active within this many seconds. */
  sessionIdleTtl: number | null;
  /** This client's sign-ins need a session signed in within this many seconds (OIDC default_max_age). */
  sessionMaxAge: number | null;
  /** Access tokens must be DPoP-bound (RFC 9449 `dpop_bound_access_tokens`). */
  requireDpop: boolean;
  /** Authorization requests must be pushed first (RFC 9126 `require_pushed_authorization_requests`). */
  requirePar: boolean;
  /** Native clients only: may use the device authorization grant (RFC 8628). */
  deviceFlow: boolean;
  /** The only scopes the client may request (OIDC and API scopes alike); null allows any. */
  allowedScopes: string[] | null;
  /** Claims of granted scopes its ID tokens carry as well as userinfo; null is the default (`roles`). */
  idTokenClaims: string[] | null;
  /** May obtain tokens for privileged APIs (the admin API and any API marked privileged); an operator's choice. */
  allowAdminApi: boolean;
  createdAt: Date;
  updatedAt: Date;
}

export const ClientEntity = new EntitySchema<Client>({
  name: 'Client',
  tableName: 'clients',
  columns: {
    clientId: { name: 'client_id', type: 'text', primary: true },
    name: { type: 'text' },
    type: { type: 'text' },
    secretEncrypted: { name: 'secret_encrypted', type: 'text', nullable: true },
    redirectUris: { name: 'redirect_uris', type: 'text', array: true, default: () => `'{}'` },
    postLogoutRedirectUris: { name: 'post_logout_redirect_uris', type: 'text', array: true, default: () => `'{}'` },
    firstParty: { name: 'first_party', type: 'boolean', default: false },
    allowUnverifiedEmail: { name: 'allow_unverified_email', type: 'boolean', default: false },
    requireMfa: { name: 'require_mfa', type: 'boolean', default: false },
    backchannelLogoutUri: { name: 'backchannel_logout_uri', type: 'text', nullable: true },
    backchannelLogoutSessionRequired: { name: 'backchannel_logout_session_required', type: 'boolean', default: true },
    accessTokenTtl: { name: 'access_token_ttl', type: 'integer', nullable: true },
    idTokenTtl: { name: 'id_token_ttl', type: 'integer', nullable: true },
    refreshTokenTtl: { name: 'refresh_token_ttl', type: 'integer', nullable: true },
    refreshTokenIdleTtl: { name: 'refresh_token_idle_ttl', type: 'integer', nullable: true },
    refreshTokenGraceSeconds: { name: 'refresh_token_grace_seconds', type: 'integer', default: 0 },
    sessionIdleTtl: { name: 'session_idle_ttl', type: 'integer', nullable: true },
    sessionMaxAge: { name: 'session_max_age', type: 'integer', nullable: true },
    requireDpop: { name: 'require_dpop', type: 'boolean', default: false },
    requirePar: { name: 'require_par', type: 'boolean', default: false },
    deviceFlow: { name: 'device_flow', type: 'boolean', default: false },
    allowedScopes: { name: 'allowed_scopes', type: 'text', array: true, nullable: true },
    idTokenClaims: { name: 'id_token_claims', type: 'text', array: true, nullable: true },
    allowAdminApi: { name: 'allow_admin_api', type: 'boolean', default: false },
    createdAt: { name: 'created_at', type: 'timestamptz', createDate: true },
    updatedAt: { name: 'updated_at', type: 'timestamptz', updateDate: true },
  },
});
