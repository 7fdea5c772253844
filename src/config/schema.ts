import { z } from 'zod';

const seconds = z.number().int().positive();

const apiSchema = z.object({
  /** Resource indicator (RFC 8707) the client sends as `resource`. */
  identifier: z.url(),
  name: z.string().min(1).optional(),
  /** The permissions this API declares: the only scopes a client may request for it. */
  scopes: z.array(z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/, 'a scope token has no spaces or quotes')).default([]),
  accessTokenTtl: seconds.default(600),
  signingAlg: z.enum(['RS256', 'ES256', 'EdDSA']).optional(),
});

/** The one schema for every setting; config/default.yaml holds the defaults. */
export const configSchema = z.object({
  nodeEnv: z.enum(['development', 'test', 'production']),
  port: z.number().int().min(0).max(65535),
  issuer: z.url().refine((value) => !value.endsWith('/'), 'the issuer has no trailing slash'),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
  dataDir: z.string().min(1),
  databaseUrl: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL').optional(),
  database: z.object({
    poolSize: z.number().int().min(1).max(200),
    embeddedPort: z.number().int().min(1024).max(65535),
  }),
  redisUrl: z.string().regex(/^(rediss?|redis-sentinel|redis-cluster):\/\//, 'must be a redis://, rediss://, redis-sentinel:// or redis-cluster:// URL').optional(),
  redis: z.object({ keyPrefix: z.string() }),
  smtpUrl: z.string().regex(/^smtps?:\/\//, 'must be an smtp:// or smtps:// URL').optional(),
  mailFrom: z.string().min(3),
  secrets: z.object({
    /** Newest first: cookies are signed with the first key and verified with any. */
    cookieKeys: z.array(z.string().min(32, 'a cookie key has at least 32 characters')).optional(),
    /** Key-encryption key for secrets at rest: 32 bytes, base64url. */
    encryptionKey: z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'must be 32 bytes in base64url (43 characters)').optional(),
  }),
  http: z.object({
    /** Peer addresses whose X-Forwarded-* headers are believed. */
    trustedProxies: z.array(z.string()),
    shutdownGraceSeconds: seconds,
  }),
  argon2: z.object({
    memoryCost: z.number().int().min(8192, 'at least 8 MiB (OWASP minimum is 19 MiB with t=2)'),
    timeCost: z.number().int().min(1),
    parallelism: z.number().int().min(1).max(16),
  }),
  keys: z.object({
    algorithm: z.enum(['RS256', 'ES256', 'EdDSA']),
    /** How long a new key is published in JWKS before it signs. */
    publishLeadSeconds: z.number().int().min(0),
    /** How often each instance re-reads the key set from the database. */
    reloadSeconds: seconds,
  }),
  ttl: z.object({
    authorizationCode: z.number().int().min(1).max(60, 'authorization codes live at most 60 seconds'),
    accessToken: seconds,
    clientCredentials: seconds,
    idToken: seconds,
    refreshToken: seconds,
    interaction: seconds,
    session: seconds,
    grant: seconds,
  }),
  apis: z.array(apiSchema),
  cleanupIntervalSeconds: seconds,
});

export type Config = z.infer<typeof configSchema>;
export type ApiConfig = z.infer<typeof apiSchema>;
/** Config after start-up filled in the secrets (generated in development). */
export type ResolvedConfig = Config & { secrets: { cookieKeys: string[]; encryptionKey: string } };
