import { createHash, randomBytes } from 'node:crypto';
import type { Context } from 'koa';
import { safeEqual } from '../http/constant-time.js';
import type { ProviderHost } from '../oidc/provider.js';

/** The built-in first-party client the self-service pages sign in through, like any relying party. */
export const accountClientId = 'portcullis-account';

export interface SignedInAccount {
  accountId: string; sessionId: string; /** The Session's stable uid (session metadata key). */ sessionUid: string;
  /** When the person last proved who they are (epoch seconds). */ loginTs: number; /** Without "Keep me signed in". */ transient: boolean;
  /** How that sign-in was proven (RFC 8176) and the level it reached (mfa-policy.ts `acr`). */ amr: string[]; acr?: string;
}

/** The account signed in on this browser's oidc-provider session, if any. */
export async function currentAccount(host: ProviderHost, ctx: Context): Promise<SignedInAccount | undefined> {
  const session = await host.provider.Session.get(ctx as never);
  if (!session?.accountId) return undefined;
  return {
    accountId: session.accountId, sessionId: session.jti, sessionUid: session.uid, loginTs: session.loginTs ?? 0, transient: session.transient === true,
    amr: Array.isArray(session.amr) ? session.amr.map(String) : [], acr: typeof session.acr === 'string' ? session.acr : undefined,
  };
}

const stateCookie = 'pcl.account-state';

/**
 * `path` when it is a local page of the account pages or the admin console, else undefined: no
 * other origin (`//host`, `/\\host`), no dot segments (plain or percent-encoded), so the callback
 * never becomes an open redirect.
 */
export function localReturnPath(path: string | undefined): string | undefined {
  if (!path || !/^\/(?:account|admin)(?:[/?]|$)/.test(path)) return undefined;
  if (/[\\\s]|\/\/|\/\.\.?(?:[/?]|$)|%(?:2e|2f|5c)/i.test(path)) return undefined;
  return path;
}

/**
 * Starts a sign-in for the account pages and the admin console: code flow with PKCE and a state
 * bound to this browser. `acrValues` asks for a stronger sign-in (step-up, OIDC Core §3.1.2.1).
 */
export function accountLoginUrl(ctx: Context, issuer: string, secure: boolean, returnTo: string, reauthenticate = false, options: { acrValues?: string } = {}): string {
  const state = randomBytes(16).toString('base64url');
  const verifier = randomBytes(32).toString('base64url');
  // Path /account: the cookie is only needed by /account/callback, whichever page started the sign-in.
  ctx.cookies.set(stateCookie, `${state}.${localReturnPath(returnTo) ?? '/account'}`, { httpOnly: true, sameSite: 'lax', secure, signed: true, maxAge: 600_000, path: '/account' });
  const url = new URL('/auth', issuer);
  url.search = new URLSearchParams({
    client_id: accountClientId, response_type: 'code', scope: 'openid', state,
    redirect_uri: `${issuer}/account/callback`,
    code_challenge: createHash('sha256').update(verifier).digest('base64url'), code_challenge_method: 'S256',
    ...(reauthenticate ? { prompt: 'login' } : {}),
    ...(options.acrValues ? { acr_values: options.acrValues } : {}),
  }).toString();
  return url.toString();
}

/**
 * Where to go after the sign-in, when `state` is the one this browser started with. The code is
 * not redeemed: the pages only need the provider's session, which the sign-in just created.
 */
export function finishAccountLogin(ctx: Context, state: string | undefined): string | undefined {
  const stored = ctx.cookies.get(stateCookie, { signed: true });
  ctx.cookies.set(stateCookie, null, { path: '/account' });
  if (!stored || !state) return undefined;
  const dot = stored.indexOf('.');
  if (dot < 1) return undefined;
  return safeEqual(stored.slice(0, dot), state) ? localReturnPath(stored.slice(dot + 1)) : undefined;
}

/** The static client registration for oidc-provider's `clients`. */
export function accountClientMetadata(issuer: string, productName: string) {
  return {
    client_id: accountClientId, client_name: productName, token_endpoint_auth_method: 'none' as const, application_type: 'web' as const,
    grant_types: ['authorization_code'], response_types: ['code' as const], redirect_uris: [`${issuer}/account/callback`],
    post_logout_redirect_uris: [`${issuer}/account`], first_party: true,
    // The console's own client: the operator's built-in client for privileged APIs (privileged-api-policy.ts).
    allow_admin_api: true,
  };
}
