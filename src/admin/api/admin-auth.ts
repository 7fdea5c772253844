import { createLocalJWKSet, jwtVerify } from 'jose';
import type { Context, Middleware } from 'koa';
import type { ApiKeyService } from '../../api-keys/api-key-service.js';
import { AppError } from '../../errors/app-error.js';
import type { KeyService } from '../../keys/key-service.js';
import type { RbacService } from '../../rbac/rbac-service.js';
import { accountClientId, accountClientMetadata } from '../../account/account-session.js';
import { privilegedAccessRefusal, type PrivilegedSubject } from '../../apis/privileged-api-policy.js';
import type { ClientService } from '../../clients/client-service.js';
import { adminApi, adminRole, adminScopes, type AdminScope } from './admin-api.js';

/** Who is calling the admin API, and with which admin scopes. */
export interface AdminPrincipal {
  /** The token's `sub` (an account id, or a client_id for client credentials) or the API key's owner. */
  sub: string;
  via: 'access_token' | 'api_key';
  scopes: ReadonlySet<AdminScope>;
}

/** 401 with a Bearer challenge (RFC 6750 §3); the admin router renders it as JSON. */
export class UnauthorizedError extends AppError {
  readonly challenge: string;
  constructor(description: string, tokenPresented: boolean) {
    super(tokenPresented ? 'invalid_token' : 'unauthorized', 401, description);
    this.challenge = tokenPresented ? `Bearer realm="admin", error="invalid_token", error_description="${description}"` : 'Bearer realm="admin"';
  }
}

/** 403 for a valid credential without the scope the route needs (RFC 6750 §3.1 insufficient_scope). */
export class InsufficientScopeError extends AppError {
  readonly challenge: string;
  constructor(readonly scope: AdminScope) {
    super('insufficient_scope', 403, `this request needs the ${scope} scope`);
    this.challenge = `Bearer realm="admin", error="insufficient_scope", scope="${scope}"`;
  }
}

export interface AdminAuthDeps {
  issuer: string;
  keys: Pick<KeyService, 'publicJwks'>;
  apiKeys: Pick<ApiKeyService, 'verify'>;
  rbac: Pick<RbacService, 'rolesForAccount' | 'rolesForClient'>;
  /** The token's client as it is now: its privileged-API allowance may have been withdrawn since. */
  clients: Pick<ClientService, 'oidcMetadata'>;
}

const isAdminScope = (scope: string): scope is AdminScope => (adminScopes as readonly string[]).includes(scope);

/**
 * Authenticates `Authorization: Bearer …`: a JWT access token (RFC 9068) Portcullis issued for
 * the admin API, checked against its own published keys, or an admin API key (`pcl_…`).
 * Sets `ctx.state.admin`; refuses with 401 otherwise.
 */
export function adminAuth({ issuer, keys, apiKeys, rbac, clients }: AdminAuthDeps): Middleware {
  const api = adminApi(issuer);
  const audience = api.identifier;
  const consoleClient = accountClientMetadata(issuer, '');

  type Verified = { sub: string; clientId: string; scope: unknown; acr: unknown; amr: unknown };

  async function verified(token: string): Promise<Verified> {
    // Read from the database, not over HTTP: this is the key set oidc-provider signs with. Outside
    // the try: a database that is down is a 503, not an invalid token.
    const published = await keys.publicJwks();
    const jwks = createLocalJWKSet(published);
    // Only the algorithms of our own signing keys: never `none`, never an HMAC keyed with a public key.
    const algorithms = [...new Set(published.keys.map((key) => key.alg)
      .filter((alg): alg is string => typeof alg === 'string'))];
    try {
      const { payload } = await jwtVerify(token, jwks, { issuer, audience, typ: 'at+jwt', algorithms });
      const { sub, client_id: clientId, scope, acr, amr } = payload;
      if (typeof sub !== 'string' || typeof clientId !== 'string') throw new Error('no sub or client_id');
      return { sub, clientId, scope, acr, amr };
    } catch {
      throw new UnauthorizedError('the access token is invalid or expired', true);
    }
  }

  async function fromJwt(token: string): Promise<AdminPrincipal> {
    const { sub, clientId, scope, acr, amr } = await verified(token);
    // The rule that let the token be minted, asked again: the client's allowance and the sign-in's second factor.
    const client = clientId === accountClientId ? consoleClient : await clients.oidcMetadata(clientId);
    // Client credentials: the client is the subject (RFC 9068 §2.2); anything else acts for a person.
    const subject: PrivilegedSubject = sub === clientId ? { kind: 'client' } : { kind: 'account', acr, amr };
    const refusal = privilegedAccessRefusal({ api, client: client ?? { client_id: clientId }, subject });
    if (refusal) throw new UnauthorizedError(refusal, true);
    return { sub, via: 'access_token', scopes: new Set(String(scope ?? '').split(' ').filter(isAdminScope)) };
  }

  async function fromApiKey(value: string, ip: string | null): Promise<AdminPrincipal> {
    const key = await apiKeys.verify(value, ip);
    // Only keys issued for the admin API count, and only while their owner still holds the admin role.
    if (!key || key.api !== audience) throw new UnauthorizedError('the API key is invalid, revoked or expired', true);
    const roles = key.clientId ? await rbac.rolesForClient(key.clientId) : key.accountId ? await rbac.rolesForAccount(key.accountId) : [];
    const sub = key.clientId ?? key.accountId ?? '';
    return { sub, via: 'api_key', scopes: new Set(roles.includes(adminRole) ? key.scopes.filter(isAdminScope) : []) };
  }

  return async (ctx, next) => {
    const match = /^Bearer ([\x21-\x7e]+)$/i.exec(ctx.get('authorization'));
    if (!match) throw new UnauthorizedError('an access token or admin API key is required', false);
    const credential = match[1]!;
    ctx.state.admin = credential.startsWith('pcl_')
      ? await fromApiKey(credential, ctx.state.clientIp ?? null)
      : await fromJwt(credential);
    await next();
  };
}

/** Refuses with 403 unless the authenticated caller holds `scope`. */
export function requireScope(scope: AdminScope): Middleware {
  return async (ctx, next) => {
    const admin = ctx.state.admin as AdminPrincipal | undefined;
    if (!admin) throw new UnauthorizedError('an access token or admin API key is required', false);
    if (!admin.scopes.has(scope)) throw new InsufficientScopeError(scope);
    await next();
  };
}

/** The audit actor for the caller: `admin:<sub>`. */
export function adminActor(admin: AdminPrincipal): string {
  return `admin:${admin.sub}`;
}

/** The audit actor with the request's IP and user agent, for services that record them. */
export function adminAuditActor(admin: AdminPrincipal, ctx: Context): { actor: string; ip?: string; userAgent?: string } {
  return { actor: adminActor(admin), ip: ctx.state.clientIp as string | undefined, userAgent: ctx.get('user-agent') || undefined };
}
