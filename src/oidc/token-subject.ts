import type { KoaContextWithOIDC } from 'oidc-provider';
import type { PrivilegedSubject } from '../apis/privileged-api-policy.js';

type Entities = Record<string, { accountId?: string; acr?: unknown; amr?: unknown } | undefined>;

/** The entities of a token request that carry a person's sign-in, in the order a grant has them. */
const signInCarriers = ['AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest'] as const;

/**
 * Who the token being asked for is about, with the sign-in's `acr`/`amr` for a person
 * (privileged-api-policy.ts). At the token endpoint an unrecognised grant counts as a person
 * with no known sign-in, so a new grant type is refused privileged APIs until it is taught here;
 * before the token endpoint (authorization, PAR, device authorization) nobody is known yet.
 */
export function tokenSubject(ctx: KoaContextWithOIDC): PrivilegedSubject {
  const grantType = ctx.oidc.params?.grant_type;
  if (grantType === undefined) return { kind: 'pending' };
  if (grantType === 'client_credentials') return { kind: 'client' };
  const entities = ctx.oidc.entities as unknown as Entities;
  const carrier = signInCarriers.map((name) => entities[name]).find((entity) => entity?.accountId);
  return { kind: 'account', acr: carrier?.acr, amr: carrier?.amr };
}
