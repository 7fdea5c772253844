import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** RFC 8693 token type naming our API keys (`subject_token_type` at the token endpoint). */
export const apiKeyTokenType = 'urn:portcullis:params:oauth:token-type:api-key';

// Fixed lengths keep parsing unambiguous although the secret's alphabet includes `_`.
const keyPattern = /^pcl_([0-9a-f]{20})_([A-Za-z0-9_-]{43})$/;

/** A new public id (80 bits, hex) and secret (256 bits, base64url). */
export function newApiKeyParts(): { id: string; secret: string } {
  return { id: randomBytes(10).toString('hex'), secret: randomBytes(32).toString('base64url') };
}

/** The key as shown once to its holder. */
export function formatApiKey(id: string, secret: string): string {
  return `pcl_${id}_${secret}`;
}

/** Splits a presented key into id and secret; undefined when it is not shaped like one of ours. */
export function parseApiKey(value: string): { id: string; secret: string } | undefined {
  const match = keyPattern.exec(value);
  return match ? { id: match[1]!, secret: match[2]! } : undefined;
}

/** Hex SHA-256 of a secret: enough for 256 random bits, unlike passwords. */
export function digestSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** Compares a presented secret with a stored digest in constant time (digests have equal length). */
export function secretMatches(secret: string, storedDigest: string): boolean {
  const presented = Buffer.from(digestSecret(secret), 'hex');
  const stored = Buffer.from(storedDigest, 'hex');
  return presented.length === stored.length && timingSafeEqual(presented, stored);
}
