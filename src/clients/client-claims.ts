import { BadRequestError } from '../errors/app-error.js';
import type { ClientType } from './client.entity.js';

/**
 * Claims a client may have copied into its ID tokens: those the `email`, `profile` and `roles`
 * scopes give (src/oidc/configuration.ts `claims`). Each still needs its scope granted.
 */
export const idTokenClaimNames = ['email', 'email_verified', 'name', 'roles'] as const;
export type IdTokenClaimName = (typeof idTokenClaimNames)[number];

/** A client without its own list (`idTokenClaims: null`): the roles scope puts `roles` in the ID token. */
export const defaultIdTokenClaims: readonly IdTokenClaimName[] = ['roles'];

/** RFC 6749 §3.3 scope-token: printable ASCII without space, `"` or `\`. */
const scopeToken = /^[\x21\x23-\x5b\x5d-\x7e]{1,200}$/;

/** The same list without repeats, in first-seen order; null stays null. */
export function distinct<T>(list: readonly T[] | null): T[] | null {
  return list === null ? null : [...new Set(list)];
}

/**
 * Checks a client's claim settings: `allowedScopes` (null: any scope) are scope tokens, and a
 * client that signs people in must be allowed `openid`; `idTokenClaims` (null: the default) name
 * known claims, and service clients, which get no ID tokens, have none.
 */
export function checkClaimSettings(type: ClientType, allowedScopes: readonly string[] | null, idTokenClaims: readonly string[] | null): void {
  if (allowedScopes !== null) {
    if (allowedScopes.length > 100) throw new BadRequestError('invalid_client_settings', 'allowedScopes lists at most 100 scopes');
    const bad = allowedScopes.find((scope) => !scopeToken.test(scope));
    if (bad !== undefined) throw new BadRequestError('invalid_client_settings', `allowedScopes: "${bad}" is not a scope token`);
    if (type !== 'service' && !allowedScopes.includes('openid')) throw new BadRequestError('invalid_client_settings', `allowedScopes of a ${type} client must include openid`);
  }
  if (idTokenClaims !== null) {
    if (type === 'service') throw new BadRequestError('invalid_client_settings', 'service clients get no ID tokens, so no idTokenClaims');
    const unknown = idTokenClaims.find((claim) => !(idTokenClaimNames as readonly string[]).includes(claim));
    if (unknown !== undefined) throw new BadRequestError('invalid_client_settings', `idTokenClaims: "${unknown}" is not one of ${idTokenClaimNames.join(', ')}`);
  }
}
