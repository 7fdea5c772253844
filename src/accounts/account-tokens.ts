import { createHash, randomBytes } from 'node:crypto';
import type { AccountTokenRepository } from './account-token-repository.js';
import type { TokenPurpose } from './account-token.entity.js';

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

export interface LinkRequest { accountId: string; purpose: TokenPurpose; email: string; ttlSeconds: number; now: Date }

/** Issues a link token, voiding the account's older links of the same purpose; returns the raw token to email. */
export async function issueLinkToken(tokens: AccountTokenRepository, request: LinkRequest): Promise<string> {
  const token = newLinkToken();
  await tokens.revokeAll(request.accountId, request.purpose, request.now);
  await tokens.insert({
    accountId: request.accountId, purpose: request.purpose, tokenHash: hashLinkToken(token), email: request.email,
    expiresAt: new Date(request.now.getTime() + request.ttlSeconds * 1000),
  });
  return token;
}

/** Whether a link is live, without spending it (the page behind it shows a button first). */
export async function isLiveLink(tokens: AccountTokenRepository, token: string, purpose: TokenPurpose, now: Date): Promise<boolean> {
  return isLinkToken(token) && (await tokens.findLive(hashLinkToken(token), purpose, now)) !== null;
}
