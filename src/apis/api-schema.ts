import { z } from 'zod';

/**
 * The longest access-token lifetime a registered API may have: one day. The signing-key service
 * keeps a retired key published at least this long (container.ts maxSignedTtl), so every token an
 * API issued stays verifiable; config APIs count with their own lifetimes.
 */
export const maxApiAccessTokenTtl = 86_400;

/** RFC 6749 §3.3 scope-token: printable ASCII without space, `"` or `\`; the same rule as config `apis`. */
export const scopeTokenPattern = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

/** Resource indicators are absolute URIs without a fragment (RFC 8707 §2); the same URL rule as config. */
export const apiIdentifierSchema = z.url().max(2000).refine((value) => !value.includes('#'), 'a resource indicator has no fragment (RFC 8707 §2)');

const scopes = z.array(z.string().max(200).regex(scopeTokenPattern, 'a scope token has no spaces or quotes')).max(200)
  .refine((list) => new Set(list).size === list.length, 'scopes must not repeat');

const settings = {
  name: z.string().trim().min(1).max(200),
  scopes,
  accessTokenTtl: z.number().int().min(1).max(maxApiAccessTokenTtl, `at most ${maxApiAccessTokenTtl} seconds (one day)`),
  rbac: z.boolean(),
  privileged: z.boolean(),
};

/** A new API: identifier and name are required; no scopes, 600 s, no RBAC, not privileged by default (as in config). */
export const apiInputSchema = z.strictObject({
  identifier: apiIdentifierSchema,
  ...settings,
  scopes: scopes.default([]),
  accessTokenTtl: settings.accessTokenTtl.default(600),
  rbac: z.boolean().default(false),
  privileged: z.boolean().default(false),
});

/** Changes to an API: any of its settings; the identifier never changes. */
export const apiChangesSchema = z.strictObject(settings).partial();

export type ApiInput = z.input<typeof apiInputSchema>;
export type ApiChanges = z.input<typeof apiChangesSchema>;
