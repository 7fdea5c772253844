import { randomBytes } from 'node:crypto';
import { safeEqual } from '../http/constant-time.js';
import { BadRequestError, NotFoundError, assertThat } from '../errors/app-error.js';
import { createKeyedCache } from '../infra/keyed-cache.js';
import { isDependencyFailure } from '../infra/dependency-failure.js';
import type { SecretBox } from '../infra/secret-box.js';
import type { Database } from '../infra/unit-of-work.js';
import type { Repositories } from '../repositories.js';
import type { Client, ClientType } from './client.entity.js';
import { redirectUriProblem } from './redirect-uri.js';
import { checkClaimSettings, defaultIdTokenClaims, distinct } from './client-claims.js';

export interface ClientInput {
  name: string;
  type: ClientType;
  redirectUris?: string[];
  postLogoutRedirectUris?: string[];
  firstParty?: boolean;
  /** Accounts with an unverified email may sign in to this client (accounts.requireVerifiedEmail otherwise). */
  allowUnverifiedEmail?: boolean;
  requireMfa?: boolean;
  /** Null clears it (on update). */
  backchannelLogoutUri?: string | null;
  backchannelLogoutSessionRequired?: boolean;
  /** Seconds; null falls back to the global ttl section. */
  accessTokenTtl?: number | null;
  idTokenTtl?: number | null;
  refreshTokenTtl?: number | null;
  refreshTokenIdleTtl?: number | null;
  refreshTokenGraceSeconds?: number;
  sessionIdleTtl?: number | null;
  sessionMaxAge?: number | null;
  requireDpop?: boolean;
  requirePar?: boolean;
  deviceFlow?: boolean;
  /** The only scopes it may request; null allows any. */
  allowedScopes?: string[] | null;
  /** Claims copied into its ID tokens (email, email_verified, name, roles); null is the default, roles. */
  idTokenClaims?: string[] | null;
  /** May obtain tokens for privileged APIs (the admin API and APIs marked privileged). */
  allowAdminApi?: boolean;
}

export type ClientChanges = Partial<Omit<ClientInput, 'type'>>;

/** Upper bounds for per-client lifetimes: a day for tokens a thief can replay, a year for refresh tokens. */
export const clientTtlLimits = { accessTokenTtl: 86_400, idTokenTtl: 86_400, refreshTokenTtl: 365 * 86_400, refreshTokenIdleTtl: 365 * 86_400, sessionIdleTtl: 30 * 86_400, sessionMaxAge: 400 * 86_400 } as const;

type SettingsKey = 'backchannelLogoutUri' | 'backchannelLogoutSessionRequired' | 'accessTokenTtl' | 'idTokenTtl' | 'refreshTokenTtl'
  | 'refreshTokenIdleTtl' | 'refreshTokenGraceSeconds' | 'sessionIdleTtl' | 'sessionMaxAge' | 'requireDpop'
  | 'requirePar' | 'deviceFlow' | 'allowedScopes' | 'idTokenClaims'
  | 'allowAdminApi';
const settingsKeys: readonly SettingsKey[] = ['backchannelLogoutUri', 'backchannelLogoutSessionRequired', 'accessTokenTtl', 'idTokenTtl', 'refreshTokenTtl',
  'refreshTokenIdleTtl', 'refreshTokenGraceSeconds', 'sessionIdleTtl', 'sessionMaxAge', 'requireDpop', 'requirePar',
  'deviceFlow', 'allowedScopes', 'idTokenClaims',
  'allowAdminApi'];

/** What callers may see of a client: never the secret. */
export type ClientView = Omit<Client, 'secretEncrypted'> & { hasSecret: boolean };

export const confidentialTypes: ReadonlySet<ClientType> = new Set(['web', 'service']);

function view({ secretEncrypted, ...client }: Client): ClientView {
  return { ...client, hasSecret: secretEncrypted !== null };
}

function checkUris(type: ClientType, redirectUris: string[], postLogoutRedirectUris: string[]): void {
  if (type === 'service' && redirectUris.length) throw new BadRequestError('invalid_redirect_uri', 'service clients have no redirect URIs');
  if (type !== 'service' && !redirectUris.length) throw new BadRequestError('invalid_redirect_uri', `a ${type} client needs at least one redirect URI`);
  for (const uri of [...redirectUris, ...postLogoutRedirectUris]) {
    const problem = redirectUriProblem(uri, type);
    if (problem) throw new BadRequestError('invalid_redirect_uri', problem);
  }
}

function checkSettings(client: Pick<Client, 'type' | SettingsKey>): void {
  if (client.backchannelLogoutUri !== null) {
    if (client.type === 'service') throw new BadRequestError('invalid_backchannel_logout_uri', 'service clients have no sessions to log out of');
    const problem = redirectUriProblem(client.backchannelLogoutUri, 'web');
    if (problem) throw new BadRequestError('invalid_backchannel_logout_uri', problem);
  }
  for (const key of ['accessTokenTtl', 'idTokenTtl', 'refreshTokenTtl', 'refreshTokenIdleTtl', 'sessionIdleTtl', 'sessionMaxAge'] as const) {
    const value = client[key];
    if (value !== null && (!Number.isInteger(value) || value < 1 || value > clientTtlLimits[key])) {
      throw new BadRequestError('invalid_ttl', `${key} must be a whole number of seconds between 1 and ${clientTtlLimits[key]}`);
    }
  }
  if (!Number.isInteger(client.refreshTokenGraceSeconds) || client.refreshTokenGraceSeconds < 0 || client.refreshTokenGraceSeconds > 30) {
    throw new BadRequestError('invalid_ttl', 'refreshTokenGraceSeconds must be a whole number of seconds between 0 and 30');
  }
  if (client.type === 'service' && (client.idTokenTtl !== null || client.refreshTokenTtl !== null || client.refreshTokenIdleTtl !== null || client.refreshTokenGraceSeconds > 0 || client.sessionIdleTtl !== null || client.sessionMaxAge !== null || client.requirePar)) {
    throw new BadRequestError('invalid_client_settings', 'service clients get neither ID tokens, refresh tokens nor authorization requests');
  }
  // RFC 8628 §1: the grant is for input-constrained devices, which register as native apps.
  if (client.deviceFlow && client.type !== 'native') throw new BadRequestError('invalid_client_settings', 'only native clients may use the device flow');
  checkClaimSettings(client.type, client.allowedScopes, client.idTokenClaims);
}

/** The settings of a new client, with defaults filled in. */
function settingsOf(input: ClientInput): Pick<Client, SettingsKey> {
  return {
    backchannelLogoutUri: input.backchannelLogoutUri ?? null,
    backchannelLogoutSessionRequired: input.backchannelLogoutSessionRequired ?? true,
    accessTokenTtl: input.accessTokenTtl ?? null,
    idTokenTtl: input.idTokenTtl ?? null,
    refreshTokenTtl: input.refreshTokenTtl ?? null,
    refreshTokenIdleTtl: input.refreshTokenIdleTtl ?? null,
    refreshTokenGraceSeconds: input.refreshTokenGraceSeconds ?? 0,
    sessionIdleTtl: input.sessionIdleTtl ?? null,
    sessionMaxAge: input.sessionMaxAge ?? null,
    requireDpop: input.requireDpop ?? false,
    requirePar: input.requirePar ?? false,
    deviceFlow: input.deviceFlow ?? false,
    allowedScopes: distinct(input.allowedScopes ?? null),
    idTokenClaims: distinct(input.idTokenClaims ?? null),
    allowAdminApi: input.allowAdminApi ?? false,
  };
}

export interface ClientServiceDeps {
  db: Database<Repositories>; secretBox: SecretBox;
  /** How long the process trusts client metadata it gave oidc-provider (config clientCacheSeconds). */
  cacheSeconds?: number; clock?: () => number;
}

/** Registers and manages clients; every change is audited in its own transaction. */
export function createClientService({ db, secretBox, cacheSeconds = 0, clock }: ClientServiceDeps) {
  const newSecret = () => randomBytes(32).toString('base64url');
  // oidc-provider looks the client up on every request; reading the row and opening its sealed
  // secret each time was a quarter of a client-credentials grant's CPU (bench/results.md).
  const metadata = createKeyedCache({
    ttlMs: cacheSeconds * 1000, clock,
    // With PostgreSQL down a client already known keeps authenticating (client credentials,
    // introspection of Redis-held tokens) for up to an hour: README "Outages and degraded modes".
    staleIfError: { accepts: isDependencyFailure, maxAgeMs: 3_600_000 },
    load: async (clientId: string) => {
      const client = await db.repos.clients.findById(clientId);
      if (!client) return undefined;
      return toOidcMetadata(client, client.secretEncrypted ? await secretBox.open(client.secretEncrypted) : undefined);
    },
  });
  /** Runs a change, then forgets the client's cached metadata (after the commit, so no reader caches the old row again). */
  async function changing<T>(clientId: string, change: () => Promise<T>): Promise<T> {
    try {
      return await change();
    } finally {
      metadata.invalidate(clientId);
    }
  }

  async function mustFind(repos: Repositories, clientId: string): Promise<Client> {
    const client = await repos.clients.findById(clientId);
    assertThat(client, new NotFoundError('client_not_found', `no client with id ${clientId}`));
    return client;
  }

  return {
    /** Returns the client and, for confidential clients, the secret: the only time it is shown. */
    async create(input: ClientInput, actor: string): Promise<{ client: ClientView; secret?: string }> {
      const redirectUris = input.redirectUris ?? [];
      const postLogoutRedirectUris = input.postLogoutRedirectUris ?? [];
      if (!input.name.trim()) throw new BadRequestError('invalid_name', 'name must not be empty');
      checkUris(input.type, redirectUris, postLogoutRedirectUris);
      const settings = settingsOf(input);
      checkSettings({ type: input.type, ...settings });
      const secret = confidentialTypes.has(input.type) ? newSecret() : undefined;
      const client = await db.transaction(async (repos) => {
        const saved = await repos.clients.insert({
          // Hex: a client_id never starts with '-', which command lines would take for an option.
          clientId: randomBytes(16).toString('hex'),
          name: input.name.trim(),
          type: input.type,
          secretEncrypted: secret ? await secretBox.seal(secret) : null,
          redirectUris,
          postLogoutRedirectUris,
          firstParty: input.firstParty ?? false,
          allowUnverifiedEmail: input.allowUnverifiedEmail ?? false,
          requireMfa: input.requireMfa ?? false,
          ...settings,
        });
        await repos.audit.append({ type: 'client.created', actor, clientId: saved.clientId, details: { name: saved.name, clientType: saved.type, redirectUris, postLogoutRedirectUris, ...settings } });
        return saved;
      });
      return { client: view(client), secret };
    },

    list: async () => (await db.repos.clients.list()).map(view),

    show: async (clientId: string) => view(await mustFind(db.repos, clientId)),

    /** `precondition` runs on the locked row before the change (the admin API's If-Match): throw to refuse. */
    async update(clientId: string, changes: ClientChanges, actor: string, options: { precondition?: (current: ClientView) => void } = {}): Promise<ClientView> {
      return changing(clientId, () => db.transaction(async (repos) => {
        const before = await repos.clients.findByIdForUpdate(clientId);
        assertThat(before, new NotFoundError('client_not_found', `no client with id ${clientId}`));
        options.precondition?.(view(before));
        const after = { ...before, ...Object.fromEntries(Object.entries(changes).filter(([, v]) => v !== undefined)) } as Client;
        after.allowedScopes = distinct(after.allowedScopes);
        after.idTokenClaims = distinct(after.idTokenClaims);
        if (!after.name.trim()) throw new BadRequestError('invalid_name', 'name must not be empty');
        checkUris(after.type, after.redirectUris, after.postLogoutRedirectUris);
        checkSettings(after);
        const changed = (['name', 'redirectUris', 'postLogoutRedirectUris', 'firstParty', 'allowUnverifiedEmail', 'requireMfa', ...settingsKeys] as const)
          .filter((key) => JSON.stringify(before[key]) !== JSON.stringify(after[key]));
        await repos.clients.update(clientId, Object.fromEntries(changed.map((key) => [key, after[key]])));
        await repos.audit.append({
          type: 'client.updated', actor, clientId,
          details: { before: Object.fromEntries(changed.map((k) => [k, before[k]])), after: Object.fromEntries(changed.map((k) => [k, after[k]])) },
        });
        return view(after);
      }));
    },

    async delete(clientId: string, actor: string): Promise<void> {
      await changing(clientId, () => db.transaction(async (repos) => {
        const client = await mustFind(repos, clientId);
        await repos.clients.delete(clientId);
        await repos.audit.append({ type: 'client.deleted', actor, clientId, details: { name: client.name } });
      }));
    },

    async rotateSecret(clientId: string, actor: string): Promise<{ client: ClientView; secret: string }> {
      return changing(clientId, () => db.transaction(async (repos) => {
        const client = await mustFind(repos, clientId);
        if (!confidentialTypes.has(client.type)) throw new BadRequestError('client_has_no_secret', `${client.type} clients are public and have no secret`);
        const secret = newSecret();
        const secretEncrypted = await secretBox.seal(secret);
        await repos.clients.update(clientId, { secretEncrypted });
        await repos.audit.append({ type: 'client.secret_rotated', actor, clientId });
        return { client: view({ ...client, secretEncrypted }), secret };
      }));
    },

    /** A confidential client's id and secret check out (RFC 6749 §2.3.1); compared in constant time. */
    async authenticate(clientId: string, secret: string): Promise<ClientView | undefined> {
      const client = await db.repos.clients.findById(clientId);
      if (!client?.secretEncrypted || !confidentialTypes.has(client.type)) return undefined;
      return safeEqual(await secretBox.open(client.secretEncrypted), secret) ? view(client) : undefined;
    },

    /** The client's metadata as oidc-provider's Client adapter must return it, or undefined. */
    // A copy each time: the cached object must not change with whatever the caller does to its answer.
    oidcMetadata: async (clientId: string): Promise<Record<string, unknown> | undefined> => structuredClone(await metadata.get(clientId)),
  };
}

/**
 * Every token_endpoint_auth_method toOidcMetadata registers: confidential clients use HTTP Basic,
 * public ones none. The provider enables exactly these, so a registered method is the only one
 * accepted at the token, introspection, revocation, PAR and device authorization endpoints.
 */
export const registrableAuthMethods = ['client_secret_basic', 'none'] as const;
type RegistrableAuthMethod = (typeof registrableAuthMethods)[number];

export const deviceCodeGrantType = 'urn:ietf:params:oauth:grant-type:device_code';
/** RFC 8693; service clients may exchange API keys for JWT access tokens (src/oidc/api-key-exchange.ts). */
export const tokenExchangeGrantType = 'urn:ietf:params:oauth:grant-type:token-exchange';

/** Maps a client type to the OAuth metadata oidc-provider validates. */
export function toOidcMetadata(client: Client, secret: string | undefined): Record<string, unknown> {
  const common = {
    client_id: client.clientId, client_name: client.name, first_party: client.firstParty, allow_unverified_email: client.allowUnverifiedEmail, require_mfa: client.requireMfa,
    // Read by configuration.ts's ttl functions; absent means the global lifetime.
    ...(client.accessTokenTtl !== null ? { access_token_ttl: client.accessTokenTtl } : {}),
    ...(client.idTokenTtl !== null ? { id_token_ttl: client.idTokenTtl } : {}),
    ...(client.refreshTokenTtl !== null ? { refresh_token_ttl: client.refreshTokenTtl } : {}),
    ...(client.refreshTokenIdleTtl !== null ? { refresh_token_idle_ttl: client.refreshTokenIdleTtl } : {}),
    ...(client.sessionIdleTtl !== null ? { session_idle_ttl: client.sessionIdleTtl } : {}),
    // OIDC Registration §2: oidc-provider then asks for a fresh sign-in past this age.
    ...(client.sessionMaxAge !== null ? { default_max_age: client.sessionMaxAge } : {}),
    refresh_token_grace_seconds: client.refreshTokenGraceSeconds,
    dpop_bound_access_tokens: client.requireDpop,
    // Read by src/oidc/client-claims.ts: scopes outside allowed_scopes are refused; id_token_claims go in ID tokens.
    ...(client.allowedScopes !== null ? { allowed_scopes: client.allowedScopes } : {}),
    ...(client.type !== 'service' ? { id_token_claims: client.idTokenClaims ?? [...defaultIdTokenClaims] } : {}),
    // Read by src/apis/privileged-api-policy.ts: only such clients get tokens for privileged APIs.
    allow_admin_api: client.allowAdminApi,
  };
  if (client.type === 'service') {
    return { ...common, client_secret: secret, grant_types: ['client_credentials', tokenExchangeGrantType],
      response_types: [], redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic' satisfies RegistrableAuthMethod };
  }
  return {
    ...common,
    ...(secret ? { client_secret: secret } : {}),
    application_type: client.type === 'native' ? 'native' : 'web',
    grant_types: ['authorization_code', 'refresh_token', ...(client.deviceFlow ? [deviceCodeGrantType] : [])],
    response_types: ['code'],
    redirect_uris: client.redirectUris,
    post_logout_redirect_uris: client.postLogoutRedirectUris,
    token_endpoint_auth_method:
      (client.type === 'web' ? 'client_secret_basic' : 'none') satisfies RegistrableAuthMethod,
    require_pushed_authorization_requests: client.requirePar,
    ...(client.backchannelLogoutUri !== null ? {
      backchannel_logout_uri: client.backchannelLogoutUri,
      backchannel_logout_session_required: client.backchannelLogoutSessionRequired,
    } : {}),
  };
}

export type ClientService = ReturnType<typeof createClientService>;
