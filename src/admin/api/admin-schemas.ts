import { z } from 'zod';
import { clientTypes } from '../../clients/client.entity.js';
import { idTokenClaimNames } from '../../clients/client-claims.js';
import { apiEmailField } from '../../identifiers/email-field.js';

const ttl = z.number().int().positive().nullable();
const timestamp = z.string().describe('ISO 8601');

/** A client as the admin API shows it: never its secret. */
export const clientSchema = z.object({
  clientId: z.string(),
  name: z.string(),
  type: z.enum(clientTypes),
  hasSecret: z.boolean(),
  redirectUris: z.array(z.string()),
  postLogoutRedirectUris: z.array(z.string()),
  firstParty: z.boolean(),
  allowUnverifiedEmail: z.boolean(),
  requireMfa: z.boolean(),
  backchannelLogoutUri: z.string().nullable(),
  backchannelLogoutSessionRequired: z.boolean(),
  accessTokenTtl: ttl,
  idTokenTtl: ttl,
  refreshTokenTtl: ttl,
  refreshTokenIdleTtl: ttl,
  refreshTokenGraceSeconds: z.number().int(),
  sessionIdleTtl: ttl,
  sessionMaxAge: ttl,
  requireDpop: z.boolean(),
  requirePar: z.boolean(),
  deviceFlow: z.boolean(),
  allowedScopes: z.array(z.string()).nullable().describe('the only scopes the client may request; null allows any'),
  idTokenClaims: z.array(z.enum(idTokenClaimNames)).nullable().describe('claims of granted scopes its ID tokens carry; null is the default, roles'),
  allowAdminApi: z.boolean()
    .describe('may obtain tokens for privileged APIs (the admin API and APIs marked privileged)'),
  createdAt: timestamp,
  updatedAt: timestamp,
});

const clientSettings = {
  name: z.string().trim().min(1).max(200),
  redirectUris: z.array(z.string().max(2000)).max(50),
  postLogoutRedirectUris: z.array(z.string().max(2000)).max(50),
  firstParty: z.boolean(),
  allowUnverifiedEmail: z.boolean(),
  requireMfa: z.boolean(),
  backchannelLogoutUri: z.string().max(2000).nullable(),
  backchannelLogoutSessionRequired: z.boolean(),
  accessTokenTtl: ttl,
  idTokenTtl: ttl,
  refreshTokenTtl: ttl,
  refreshTokenIdleTtl: ttl,
  refreshTokenGraceSeconds: z.number().int().min(0).max(30),
  sessionIdleTtl: ttl,
  sessionMaxAge: ttl,
  requireDpop: z.boolean(),
  requirePar: z.boolean(),
  deviceFlow: z.boolean(),
  allowedScopes: z.array(z.string().max(200)).max(100).nullable(),
  idTokenClaims: z.array(z.enum(idTokenClaimNames)).max(idTokenClaimNames.length).nullable(),
  allowAdminApi: z.boolean(),
};

export const clientCreateSchema = z.strictObject({ ...clientSettings, type: z.enum(clientTypes) }).partial().required({ name: true, type: true });
export const clientUpdateSchema = z.strictObject(clientSettings).partial();

/** A new client, or a rotated secret: the only answers that carry `clientSecret`. */
export const clientWithSecretSchema = z.object({ client: clientSchema, clientSecret: z.string().optional() });

/** An account as the admin API shows it: never its password hash. */
export const accountSchema = z.object({
  id: z.string(),
  email: z.string(),
  emailVerified: z.boolean(),
  name: z.string().nullable(),
  disabledAt: timestamp.nullable(),
  mfaRequired: z.boolean(),
  roles: z.array(z.string()),
  createdAt: timestamp,
  updatedAt: timestamp,
});

export const accountCreateSchema = z.strictObject({
  // canonicalEmail decides (IDN and fullwidth accepted, ambiguous and control characters refused).
  email: apiEmailField(),
  password: z.string().min(1).max(1024),
  name: z.string().max(200).optional(),
  verified: z.boolean().optional(),
  roles: z.array(z.string().regex(/^[a-z][a-z0-9_.-]{0,63}$/)).max(20).optional(),
});

/** `?cursor=&limit=`: the cursor is opaque, taken from the previous page's `nextCursor`. */
export const pageQuery = {
  cursor: z.string().max(500).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
};

/** A page of `item`, with the cursor of the next one (null on the last page). */
export function pageOf<T extends z.ZodType>(item: T) {
  return z.object({ items: z.array(item), nextCursor: z.string().nullable() });
}

export const encodeCursor = (value: string) => Buffer.from(value, 'utf8').toString('base64url');
export const decodeCursor = (cursor: string | undefined) => (cursor === undefined ? undefined : Buffer.from(cursor, 'base64url').toString('utf8'));

/** Dates become ISO strings, as JSON would make them. */
export const toJson = <T>(value: T): unknown => JSON.parse(JSON.stringify(value)) as unknown;
