import type { Adapter } from './adapters/adapter-factory.js';

/**
 * Opaque token values are nanoid strings, 6 bits per character. Access tokens (and client
 * credentials tokens) get 264 bits, 44 characters; refresh tokens keep the default 256 bits, 43.
 * Both are above the 128 bits RFC 6749 §10.10 asks for.
 *
 * The difference lets a lookup skip a store that cannot hold the value: introspection and
 * revocation without a token_type_hint ask for an access token, a client credentials token and a
 * refresh token at once, and the refresh token lives in PostgreSQL while the others live in Redis.
 * @see https://github.com/panva/node-oidc-provider/blob/v9.13.3/lib/helpers/token_find.js
 */
const accessTokenBits = 264;
const refreshTokenBits = 256;
const accessTokenLength = accessTokenBits / 6;

/** oidc-provider's `formats.bitsOfOpaqueRandomness`. */
export function bitsOfOpaqueRandomness(_ctx: unknown, token: { kind: string }): number {
  return token.kind === 'AccessToken' || token.kind === 'ClientCredentials' ? accessTokenBits : refreshTokenBits;
}

/** A 44-character value is an access token id, and a JWT (it has dots) is never a refresh token. */
export function cannotBeRefreshToken(value: string): boolean {
  return value.length === accessTokenLength || value.includes('.');
}

/** The RefreshToken adapter, answering "not found" without a query for values that can't be one. */
export function refreshTokenLookupsByShape(inner: Adapter): Adapter {
  return {
    ...inner,
    async find(id) {
      return cannotBeRefreshToken(id) ? undefined : inner.find(id);
    },
  };
}
