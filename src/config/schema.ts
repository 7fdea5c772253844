import { z } from 'zod';
import { smsConfigSchema } from '../infra/sms.js';

const seconds = z.number().int().positive();

const apiSchema = z.object({
  /** Resource indicator (RFC 8707) the client sends as `resource`. */
  identifier: z.url(),
  name: z.string().min(1).optional(),
  /** The permissions this API declares: the only scopes a client may request for it. */
  scopes: z.array(z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/, 'a scope token has no spaces or quotes')).default([]),
  accessTokenTtl: seconds.default(600),
  /**
   * Role-based access: a token for this API gets only the scopes the subject's roles allow
   * (roles grant permissions with `portcullis roles grant`). Off, every declared scope may be granted.
   */
  rbac: z.boolean().default(false),
  /** Privileged: tokens only for clients allowed privileged APIs, and user tokens only after a second factor. */
  privileged: z.boolean().default(false),
});

const limit = z.object({ points: z.number().int().positive(), durationSeconds: seconds });

/** A progressive lockout (NIST SP 800-63B §5.2.2): passwords (`lockout`) and second factors (`mfa.lockout`). */
const lockoutPolicy = z.object({
  /** Consecutive failures before the first lock. */
  threshold: z.number().int().min(1),
  baseSeconds: seconds,
  multiplier: z.number().min(1),
  maxSeconds: seconds,
  /** NIST: never more than 100 consecutive failures; then only an unlock lifts the lock. */
  maxConsecutiveFailures: z.number().int().min(1).max(100),
});

const colour = z.string().regex(/^#[0-9a-fA-F]{6}$/, 'must be a #rrggbb colour');

/** The one schema for every setting; config/default.yaml holds the defaults. */
export const configSchema = z.object({
  nodeEnv: z.enum(['development', 'test', 'production']),
  port: z.number().int().min(0).max(65535),
  /** HTTP worker processes sharing the port (src/cluster.ts); unset: one per CPU in production, 1 otherwise; `auto`: one per CPU. */
  workers: z.union([z.number().int().min(1).max(256), z.literal('auto')]).optional(),
  /** UV_THREADPOOL_SIZE as this process was started with (libuv reads it only then); unset: libuv's 4. */
  threadpoolSize: z.number().int().min(1).max(1024).optional(),
  /** MALLOC_MMAP_THRESHOLD_ as this process was started with (glibc reads it only then); unset: cluster workers get src/runtime-memory.ts's. */
  mallocMmapThreshold: z.number().int().min(0).optional(),
  issuer: z.url().refine((value) => !value.endsWith('/'), 'the issuer has no trailing slash'),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
  dataDir: z.string().min(1),
  databaseUrl: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL').optional(),
  database: z.object({
    poolSize: z.number().int().min(1).max(200),
    embeddedPort: z.number().int().min(1024).max(65535),
    /** The schema owner's URL, used only to migrate; unset: migrations use databaseUrl (one role for both). */
    migrationUrl: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL').optional(),
    /** Longest wait for a pooled connection (and for a new one to connect); then the request gets a 503. */
    acquireTimeoutMs: z.number().int().min(100).max(60_000),
    /** Server-side statement_timeout; the client also gives up shortly after it (query_timeout). */
    statementTimeoutMs: z.number().int().min(100).max(600_000),
    /** idle_in_transaction_session_timeout: a transaction left idle this long is ended by PostgreSQL. */
    idleInTransactionTimeoutMs: z.number().int().min(100).max(600_000),
  }),
  redisUrl: z.string().regex(/^(rediss?|redis-sentinel|redis-cluster):\/\//, 'must be a redis://, rediss://, redis-sentinel:// or redis-cluster:// URL').optional(),
  redis: z.object({
    keyPrefix: z.string(),
    /** Longest wait for a TCP connection to Redis. */
    connectTimeoutMs: z.number().int().min(100).max(60_000),
    /** A command (queued while reconnecting, or sent) fails after this long. */
    commandTimeoutMs: z.number().int().min(50).max(60_000),
  }),
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
    /** After SIGTERM, /readyz answers 503 this long before the listener closes, so load balancers notice. */
    drainDelaySeconds: z.number().int().min(0),
    /** Retry-After of a 503 answered while a dependency (PostgreSQL, Redis) is unavailable. */
    retryAfterSeconds: z.number().int().min(1).max(3600),
    /** Each /readyz dependency check gives up after this long, so /readyz itself answers within it. */
    readinessTimeoutMs: z.number().int().min(50).max(10_000),
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
    /** How often each instance re-reads the key set from the database (and checks the rotation schedule). */
    reloadSeconds: seconds,
    /** Days a key signs before a scheduled rotation replaces it; 0 turns the schedule off. */
    rotationDays: z.number().int().min(0).max(3650),
  }).refine((keys) => keys.publishLeadSeconds === 0 || keys.publishLeadSeconds >= 2 * keys.reloadSeconds, {
    message: 'publishLeadSeconds must be 0 or at least twice reloadSeconds, so every instance publishes a key before any signs with it',
    path: ['publishLeadSeconds'],
  }),
  ttl: z.object({
    authorizationCode: z.number().int().min(1).max(60, 'authorization codes live at most 60 seconds'),
    accessToken: seconds,
    clientCredentials: seconds,
    idToken: seconds,
    refreshToken: seconds,
    /** A refresh token unused this long expires (each use rotates it and restarts this clock). */
    refreshTokenIdle: seconds,
    interaction: seconds,
    session: seconds,
    grant: seconds,
  }),
  apis: z.array(apiSchema),
  introspection: z.object({
    /** client_ids of resource servers that may introspect tokens issued to other clients. */
    resourceServers: z.array(z.string()),
  }),
  branding: z.object({
    productName: z.string().min(1).max(60),
    logoUrl: z.string().regex(/^(https:\/\/|\/static\/)/, 'must be an https URL or a /static/ path').optional(),
    primaryColor: colour,
    defaultLocale: z.enum(['en', 'fr']),
  }),
  accounts: z.object({
    registrationEnabled: z.boolean(),
    /** Default for clients; a client can allow unverified emails (clients.allow_unverified_email). */
    requireVerifiedEmail: z.boolean(),
    verificationTtl: seconds,
    resetTtl: seconds,
    unlockTtl: seconds,
    emailChangeTtl: seconds,
    rememberMeDays: z.number().int().min(1).max(400),
  }),
  sessions: z.object({
    /** NIST SP 800-63B rev 4 §2.2.3 (AAL2): sign in again after this much inactivity; 0 turns it off. */
    idleTimeoutSeconds: z.number().int().min(0),
  }),
  passwordPolicy: z.object({
    /** NIST SP 800-63B rev 4: 15 for single-factor accounts. */
    minLength: z.number().int().min(8),
    /** Allowed when the account is required to use a second factor. */
    minLengthWithMfa: z.number().int().min(8),
    maxLength: z.number().int().min(64, 'NIST requires at least 64 characters to be allowed'),
    /** zxcvbn score (0–4) a password must reach. */
    minScore: z.number().int().min(0).max(4),
    hibp: z.object({
      enabled: z.boolean(),
      baseUrl: z.url(),
      timeoutMs: z.number().int().positive(),
    }),
  }),
  captcha: z.object({
    provider: z.enum(['altcha', 'turnstile', 'hcaptcha', 'recaptcha', 'none']),
    siteKey: z.string().optional(),
    secretKey: z.string().optional(),
    /** Overrides the provider's verification endpoint (self-hosted proxies, tests). */
    verifyUrl: z.url().optional(),
    /** Failed sign-ins for an email or IP after which the login form asks for a CAPTCHA. */
    loginFailuresBeforeCaptcha: z.number().int().min(0),
    altchaMaxNumber: z.number().int().min(1000),
    /** altcha work × this per failed sign-in (email or IP) past loginFailuresBeforeCaptcha; 1 = fixed. */
    altchaGrowth: z.number().min(1).max(10),
    /** The most work an adaptive altcha challenge asks for (its maxNumber), so an honest device still finishes. */
    altchaMaxNumberCap: z.number().int().min(1000),
    challengeTtl: seconds,
  }),
  sms: smsConfigSchema,
  mfa: z.object({
    /** Members of these roles must use a second factor. */
    requiredRoles: z.array(z.string()),
    /** Days a "trust this device" cookie skips the second factor; 0 hides the option. */
    trustDeviceDays: z.number().int().min(0).max(90),
    /** Credential changes (factors, recovery codes, password, email, API keys) need a sign-in this recent (seconds). */
    recentAuthSeconds: seconds,
    /** Progressive lockout of the second-factor step, per account, over every kind of second factor. */
    lockout: lockoutPolicy,
  }),
  notifications: z.object({
    /** Email the owner on a sign-in from a browser without this account's signed device cookie. */
    newDeviceSignIn: z.boolean(),
  }),
  /** Progressive lockout of password sign-ins, per email. */
  lockout: lockoutPolicy,
  rateLimits: z.object({
    loginPerIp: limit,
    loginPerAccount: limit,
    registrationPerIp: limit,
    resendPerIp: limit,
    resendPerAccount: limit,
    resetPerIp: limit,
    resetPerAccount: limit,
    /** Second-factor attempts (codes, passkeys) per account. */
    mfaPerAccount: limit,
    /** POST /api-keys/introspect per client IP, counted before client authentication. */
    apiKeyIntrospectPerIp: limit,
    /** Admin API requests per client IP, counted before authentication (slows credential guessing). */
    adminApiPerIp: limit,
  }),
  apiKeys: z.object({
    /** People may create API keys for themselves (personal keys); service keys are always available to admins. */
    personal: z.boolean(),
  }),
  audit: z.object({
    checkpoint: z.object({
      /** Ed25519 private key (PKCS#8 PEM or JWK JSON) signing audit checkpoints; never stored in the database. */
      key: z.string().min(1).optional(),
      /** How often a server writes a checkpoint when new events arrived; 0 only on `audit checkpoint`. */
      intervalSeconds: z.number().int().min(0),
    }),
  }),
  cleanupIntervalSeconds: seconds,
  /** How long a process trusts client metadata it read (0 = read every time); its own changes apply at once. */
  clientCacheSeconds: z.number().int().min(0).max(300),
  /** The durable outbox for email, SMS and account jobs (src/outbox/, README "Outbox"). */
  outbox: z.object({
    /** Whether this process runs a delivery worker (every instance may: claims never overlap). */
    worker: z.boolean(),
    /** Longest wait between two looks at the table; a commit in this process wakes the worker at once. */
    pollIntervalSeconds: z.number().positive().max(3600),
    /** Messages claimed per look. */
    batchSize: z.number().int().min(1).max(1000),
    /** Attempts before a message is dead-lettered. */
    maxAttempts: z.number().int().min(1).max(1000),
    /** Age (since enqueue or an operator's retry) after which a failing message is dead-lettered. */
    maxAgeSeconds: seconds,
    /** First retry delay; each further one doubles, with jitter, up to backoffMaxSeconds. */
    backoffBaseSeconds: z.number().positive(),
    backoffMaxSeconds: z.number().positive(),
    /** How long a claimed message stays reserved for its worker; longer than any one delivery takes. */
    leaseSeconds: seconds,
    /** Days a delivered message is kept (for `outbox list`) before the cleaner deletes it. */
    retentionDays: z.number().int().min(0).max(3650),
  }),
});

export type Config = z.infer<typeof configSchema>;
export type ApiConfig = z.infer<typeof apiSchema>;
/** Config after start-up filled in the secrets (generated in development). */
export type RateLimitName = keyof Config['rateLimits'];
export type ResolvedConfig = Config & { secrets: { cookieKeys: string[]; encryptionKey: string } };
