import { createHash, randomBytes } from 'node:crypto';
import type { Context } from 'koa';
import { safeEqual } from '../http/constant-time.js';
import type { ProviderHost } from '../oidc/provider.js';

/** The built-in first-party client the self-service pages sign in through, like any relying party. */
export const accountClientId = 'portcullis-account';

export interface SignedInAccount {
  accountId: string; sessionId: string; /** The Session's stable uid (session metadata key). */ sessionUid: string;
  /** When the person last proved who they are (epoch seconds). */ loginTs: number; /** Without "Keep me signed in". */ transient: boolean;
}

/** The account signed in on this browser's oidc-provider session, if any. */
export async function currentAccount(host: ProviderHost, ctx: Context): Promise<SignedInAccount | undefined> {
  const session = await host.provider.Session.get(ctx as never);
  if (!session?.accountId) return undefined;
  return { accountId: session.accountId, sessionId: session.jti, sessionUid: session.uid, loginTs: session.loginTs ?? 0, transient: session.transient === true };
}

const stateCookie = 'pcl.account-state';

/** Starts a sign-in for the account pages: code flow with PKCE and a state bound to this browser. */
export function accountLoginUrl(ctx: Context, issuer: string, secure: boolean, returnTo: string, reauthenticate = false): string {
  const state = randomBytes(16).toString('base64url');
  const verifier = randomBytes(32).toString('base64url');
  ctx.cookies.set(stateCookie, `${state}.${returnTo}`, { httpOnly: true, sameSite: 'lax', secure, signed: true, maxAge: 600_000, path: '/account' });
  const url = new URL('/auth', issuer);
  url.search = new URLSearchParams({
    client_id: accountClientId, response_type: 'code', scope: 'openid', state,
    redirect_uri: `${issuer}/account/callback`,
    code_challenge: createHash('sha256').update(verifier).digest('base64url'), code_challenge_method: 'S256',
    ...(reauthenticate ? { prompt: 'login' } : {}),
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
  const [expected, returnTo] = stored.split('.');
  return expected && safeEqual(expected, state) && returnTo?.startsWith('/account') ? returnTo : undefined;
}

/** The static client registration for oidc-provider's `clients`. */
export function accountClientMetadata(issuer: string, productName: string) {
  return {
    client_id: accountClientId, client_name: productName, token_endpoint_auth_method: 'none' as const, application_type: 'web' as const,
    grant_types: ['authorization_code'], response_types: ['code' as const], redirect_uris: [`${issuer}/account/callback`],
    post_logout_redirect_uris: [`${issuer}/account`], first_party: true,
  };
}
