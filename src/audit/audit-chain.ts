import { createHash } from 'node:crypto';
import { canonicalUuid } from '../identifiers/opaque-id.js';

/** What a caller records; the time, chain position and hashes are added by the repository. */
export interface AuditEventInput {
  type: string;
  /** Free text: "cli", "admin:<accountId>", "account:<id>", "client:<id>". */
  actor?: string;
  accountId?: string;
  clientId?: string;
  ip?: string;
  userAgent?: string;
  details?: Record<string, unknown>;
}

/** The hashed part of an event, exactly as it reads back from the database. */
export interface AuditEventContent {
  occurredAt: string;
  type: string;
  actor: string | null;
  accountId: string | null;
  clientId: string | null;
  ip: string | null;
  userAgent: string | null;
  details: Record<string, unknown>;
}

/** One stored row of the chain; `id` is a bigint, kept as a string so it never loses precision. */
export interface AuditEvent extends Omit<AuditEventContent, 'occurredAt'> {
  id: string;
  occurredAt: Date;
  prevHash: string;
  hash: string;
}

/** The prev_hash of the first row: nothing precedes it. */
export const GENESIS_PREV_HASH = '0'.repeat(64);

export const REDACTED = '[redacted]';

/** JSON with object keys sorted at every depth, so equal content always hashes equally. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item ?? null)).join(',')}]`;
  const entries = Object.keys(value)
    .sort()
    .filter((key) => (value as Record<string, unknown>)[key] !== undefined)
    .map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`);
  return `{${entries.join(',')}}`;
}

/** SHA-256 hex over the previous row's hash, a newline and the canonical content. */
export function hashEvent(prevHash: string, content: AuditEventContent): string {
  return createHash('sha256').update(`${prevHash}\n${canonicalJson(content)}`).digest('hex');
}

/** The hashed content of a stored row (or of a row about to be stored). */
export function eventContent(event: Omit<AuditEvent, 'id' | 'prevHash' | 'hash'>): AuditEventContent {
  return {
    occurredAt: event.occurredAt.toISOString(),
    type: event.type,
    actor: event.actor,
    accountId: event.accountId,
    clientId: event.clientId,
    ip: event.ip,
    userAgent: event.userAgent,
    details: event.details,
  };
}

// Matched against the key lowercased with separators removed, so passwordHash, client_secret,
// X-Api-Key and refreshToken are all caught. Over-redacting is cheap; a leaked secret is not.
const SECRET_KEY_PARTS = [
  'password', 'passwd', 'passphrase', 'secret', 'token', 'apikey', 'privatekey', 'privatejwk',
  'codeverifier', 'authorization', 'cookie', 'credential', 'seed', 'otpauth', 'recoverycode',
  'backupcode', 'assertion', 'bearer', 'signingkey', 'encryptionkey', 'kek',
];
// Whole-key matches: one-time codes, and the private members of a JWK (RFC 7518 §6.3.2, §6.4.1).
const SECRET_KEYS = new Set(['key', 'pin', 'otp', 'code', 'usercode', 'devicecode', 'd', 'p', 'q', 'dp', 'dq', 'qi', 'k']);
// Names that describe a secret without holding it (token_type, secretRotatedAt, credentialId, accessTokenTtl).
const DESCRIPTIVE_SUFFIXES = ['id', 'ids', 'type', 'types', 'method', 'alg', 'at', 'count', 'endpoint', 'uri', 'uris', 'prefix', 'ttl', 'claims'];
const CREDENTIAL_VALUE = /^(bearer|basic|dpop)\s+\S+/i;

function isSecretKey(key: string): boolean {
  const name = key.toLowerCase().replace(/[^a-z0-9]/g, '');
  if (SECRET_KEYS.has(name)) return true;
  if (!SECRET_KEY_PARTS.some((part) => name.includes(part))) return false;
  return !DESCRIPTIVE_SUFFIXES.some((suffix) => name.endsWith(suffix) && !SECRET_KEY_PARTS.some((part) => name.endsWith(part)));
}

function redactValue(value: unknown): unknown {
  if (typeof value === 'string') return CREDENTIAL_VALUE.test(value) ? REDACTED : value;
  if (Array.isArray(value)) return value.map(redactValue);
  if (value !== null && typeof value === 'object' && !(value instanceof Date)) {
    return redactSecrets(value as Record<string, unknown>);
  }
  return value;
}

/** A copy of `details` with every secret-looking value replaced by "[redacted]", at any depth. */
export function redactSecrets(details: Record<string, unknown>): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(details)) {
    // A boolean (passwordChanged: true) cannot carry a secret; a number can (a numeric PIN).
    const holdsValue = value !== null && value !== undefined && typeof value !== 'boolean';
    result[key] = holdsValue && isSecretKey(key) ? REDACTED : redactValue(value);
  }
  return result;
}

/**
 * The content to store and hash: redacted, and normalised the way PostgreSQL will store it
 * (jsonb drops undefined and turns Dates into strings; uuid reads back lower-case), so a row
 * hashes the same when verified as when written.
 */
export function prepareContent(input: AuditEventInput, occurredAt: Date): AuditEventContent {
  const accountId = input.accountId === undefined ? null : canonicalUuid(input.accountId);
  if (accountId === undefined) throw new TypeError('audit accountId must be a UUID');
  const details = JSON.parse(JSON.stringify(redactSecrets(input.details ?? {}))) as Record<string, unknown>;
  return eventContent({
    occurredAt,
    type: input.type,
    actor: input.actor ?? null,
    accountId,
    clientId: input.clientId ?? null,
    ip: input.ip ?? null,
    userAgent: input.userAgent ?? null,
    details,
  });
}
