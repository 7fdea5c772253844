import { createHash, randomBytes } from 'node:crypto';

/** A new link token: 256 bits from the CSPRNG, URL-safe. */
export function newLinkToken(): string {
  return randomBytes(32).toString('base64url');
}

/** What is stored: the token is high-entropy, so a plain SHA-256 is enough and lookups stay indexed. */
export function hashLinkToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Rejects obviously malformed tokens before any database work. */
export function isLinkToken(value: unknown): value is string {
  return typeof value === 'string' && /^[A-Za-z0-9_-]{43}$/.test(value);
}
