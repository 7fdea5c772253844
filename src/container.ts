import { createHmac } from 'node:crypto';
import { createSetupService } from './setup/setup-service.js';
import { ServiceUnavailableError } from './errors/app-error.js';
import { migrations } from '../migrations/index.js';
import { createApiKeyService } from './api-keys/api-key-service.js';
import { adminApi } from './admin/api/admin-api.js';
import { createApiRegistry } from './apis/api-registry.js';
import { maxApiAccessTokenTtl } from './apis/api-schema.js';
import { createAccountLinks } from './accounts/account-links.js';
import { createAccountNotifier } from './accounts/account-notifier.js';
import { createAccountService } from './accounts/account-service.js';
import { createBreachChecker } from './accounts/breach-checker.js';
import { createEmailChangeService } from './accounts/email-change-service.js';
import { createEmailVerificationService } from './accounts/email-verification-service.js';
import { createLoginThrottle } from './accounts/login-throttle.js';
import { createLockoutRecordRepository } from './accounts/lockout-record-repository.js';
import { createAltchaDifficulty } from './captcha/altcha-difficulty.js';
import { createSecondFactorGuard } from './mfa/second-factor-guard.js';
import { createSecondFactorThrottle } from './mfa/second-factor-throttle.js';
import { createPasswordPolicy } from './accounts/password-policy.js';
import { createPasswordResetService } from './accounts/password-reset-service.js';
import { createRegistrationService } from './accounts/registration-service.js';
import { createSignInService } from './accounts/sign-in-service.js';
import { createSecurityNotices } from './accounts/security-notices.js';
import { createAccountAdminService } from './admin/account-admin-service.js';
import { createCaptcha } from './captcha/captcha-service.js';
import { createEmailRenderer } from './email/email-renderer.js';
import { createRateLimits } from './http/rate-limit.js';
import { createMailer } from './infra/email.js';
import { createLimiterFactory } from './infra/rate-limiter-store.js';
import { createAdapterFactory } from './oidc/adapters/adapter-factory.js';
import { createOidcModelRepository } from './oidc/adapters/oidc-model-repository.js';
import { createClientAdapter } from './oidc/client-adapter.js';
import { withRefreshGrace } from './oidc/adapters/refresh-grace.js';
import { refreshTokenLookupsByShape } from './oidc/token-id-shapes.js';
import { createBackchannelLogout } from './oidc/backchannel-logout.js';
import { createSessionRevoker } from './oidc/session-revoker.js';
import { createSessionService } from './sessions/session-service.js';
import { createMfaService } from './mfa/mfa-service.js';
import { recoveryCodeHasher } from './mfa/recovery-codes.js';
import { createTrustedDevices } from './mfa/trusted-device.js';
import { createKnownDevices } from './sessions/known-devices.js';
import { createWebAuthnService } from './mfa/webauthn.js';
import { createOtpService, otpCodeHasher } from './mfa/otp-service.js';
import { createSmsSender } from './infra/sms.js';
import { accountJobHandlers } from './accounts/account-jobs.js';
import { registerOutboxHandlers } from './outbox/register-handlers.js';
import { outboxCommitSubscriber } from './outbox/outbox-repository.js';
import { createOutboxWorker } from './outbox/outbox-worker.js';
import { createWebAuthnChallengeStore } from './mfa/webauthn-challenge-store.js';
import { createPasswordHasher } from './accounts/password-hasher.js';
import { hashConcurrency } from './infra/concurrency-limit.js';
import { auditRepositoryFor } from './audit/audit-repository.js';
import { createAuditService } from './audit/audit-service.js';
import { createAuditTrail } from './audit/audit-trail.js';
import { createCheckpointSigner } from './audit/checkpoint-signer.js';
import { clientTtlLimits, createClientService } from './clients/client-service.js';
import type { ResolvedConfig } from './config/schema.js';
import { openDataSource, type DataSource } from './infra/data-source.js';
import { migrateAsOwner, resolveDatabaseUrls } from './infra/database-urls.js';
import type { Logger } from './infra/logger.js';
import { createRedis, type RedisClient } from './infra/redis.js';
import { createDependencyHealth, type DependencyHealth } from './infra/dependency-health.js';
import { postgresProbe, redisProbe } from './infra/dependency-probes.js';
import { watchRedis } from './infra/redis-events.js';
import { createSecretBox } from './infra/secret-box.js';
import { createDatabase } from './infra/unit-of-work.js';
import { createKeyService } from './keys/key-service.js';
import { createRbacService } from './rbac/rbac-service.js';
import { entities, repositoriesFor } from './repositories.js';

export interface ContainerOptions {
  /** Apply pending migrations (development start, tests, `portcullis migrate`). */
  migrate: boolean;
  /** Connect to Redis (the CLI doesn't need it). */
  redis?: boolean;
  /** The clock session lifetimes are measured on (tests move it instead of sleeping). */
  now?: () => Date;
  /** Statements may run as long as they need (the CLI's bulk commands); requests keep the configured bound. */
  unboundedStatements?: boolean;
}

/**
 * The longest lifetime of anything we sign, so a retired key outlives its tokens; a client may
 * set its own ID token lifetime, up to clientTtlLimits.idTokenTtl, and an API registered at run time
 * its access token lifetime, up to maxApiAccessTokenTtl.
 */
function maxSignedTtl(config: ResolvedConfig): number {
  return Math.max(config.ttl.idToken, clientTtlLimits.idTokenTtl, config.ttl.accessToken, config.ttl.clientCredentials, maxApiAccessTokenTtl, ...config.apis.map((api) => api.accessTokenTtl));
}

/** Composition root: connections, repositories and services, closed in reverse order. */
export async function createContainer(config: ResolvedConfig, logger: Logger, options: ContainerOptions) {
  // Read first: a bad key stops start-up before anything is connected. It never goes into the database.
  const checkpointSigner = config.audit.checkpoint.key
    ? await createCheckpointSigner(config.audit.checkpoint.key)
    : undefined;
  // Migrations run as the schema owner; everything else as the service's role (README "Database roles").
  const { url, migrationUrl, embedded } = await resolveDatabaseUrls(config, logger);
  if (options.migrate) {
    const applied = await migrateAsOwner(migrationUrl, migrations).catch(async (error: unknown) => {
      await embedded?.stop();
      throw error;
    });
    if (applied.length) logger.info({ migrations: applied }, 'migrations applied');
  }
  let health: DependencyHealth | undefined;
  const dataSource: DataSource = await openDataSource({
    url, poolSize: config.database.poolSize, entities, migrations,
    timeouts: { ...config.database, ...(options.unboundedStatements ? { statementTimeoutMs: 0 } : {}) },
    onPoolError: (error) => health?.connectionLost('postgres', error),
  });
  if (!options.migrate && await dataSource.showMigrations()) {
    await dataSource.destroy();
    await embedded?.stop();
    throw new Error('the database has pending migrations: run `npx portcullis migrate` first');
  }
  const redis: RedisClient | undefined = options.redis !== false && config.redisUrl
    ? createRedis(config.redisUrl, {
      keyPrefix: config.redis.keyPrefix, connectTimeout: config.redis.connectTimeoutMs,
      commandTimeout: config.redis.commandTimeoutMs,
    })
    : undefined;
  const postgresCheck = postgresProbe(url, config.http.readinessTimeoutMs);
  const probes = [postgresCheck, ...(redis ? [redisProbe(redis, config.http.readinessTimeoutMs)] : [])];
  health = createDependencyHealth({ logger, probes });
  if (redis) watchRedis(redis, health);

  const db = createDatabase(dataSource, repositoriesFor);
  // One key per purpose, derived from the encryption key, so config holds a single secret.
  const derivedKey = (label: string) => createHmac('sha256', config.secrets.encryptionKey).update(`portcullis ${label}`).digest('hex');
  const secretBox = createSecretBox(config.secrets.encryptionKey);
  const hasher = createPasswordHasher(config.argon2, hashConcurrency(config.threadpoolSize));
  const audit = createAuditService({ repositoryFor: auditRepositoryFor(dataSource.manager) });
  // Signed checkpoints, whole-trail verification and the privilege check (src/audit/audit-trail.ts).
  const auditTrail = createAuditTrail({ dataSource, signer: checkpointSigner, logger });
  const accounts = createAccountService({ db, hasher });
  const clients = createClientService({ db, secretBox, cacheSeconds: config.clientCacheSeconds });
  // Built-in admin API, config `apis` and APIs registered at run time (src/apis/).
  const apis = createApiRegistry({ db, configured: config.apis, builtin: [adminApi(config.issuer)] });
  const rbac = createRbacService({ db, apis });
  // Admin API keys name the admin API, which the registry lists as built-in (admin-api.ts).
  const apiKeys = createApiKeyService({ db, apis, now: options.now });
  const keys = createKeyService({
    db, secretBox, algorithm: config.keys.algorithm, publishLeadSeconds: config.keys.publishLeadSeconds, maxTokenTtlSeconds: maxSignedTtl(config),
    rotationDays: config.keys.rotationDays,
  });

  // oidc-provider's storage, shared by the provider and by session revocation.
  const oidcModels = createOidcModelRepository(dataSource);
  const clientAdapter = createClientAdapter(clients);
  const stores = createAdapterFactory({ dataSource, redis });
  const refreshGrace = async (clientId: string) => (await db.repos.clients.findById(clientId))?.refreshTokenGraceSeconds ?? 0;
  const adapter = createAdapterFactory({
    dataSource, redis,
    overrides: { Client: () => clientAdapter, RefreshToken: () => refreshTokenLookupsByShape(withRefreshGrace(stores('RefreshToken'), refreshGrace)) },
  });
  // Attached to the provider by server.ts; without one (CLI) no logout tokens can be signed.
  const backchannel = createBackchannelLogout({ audit, logger });
  const sessions = createSessionRevoker({ repository: oidcModels, adapter, backchannel });
  const sessionService = createSessionService({
    db, oidcModels, revoker: sessions, now: options.now,
    settings: { idleTimeoutSeconds: config.sessions.idleTimeoutSeconds, sessionTtlSeconds: config.ttl.session, rememberMeDays: config.accounts.rememberMeDays },
  });

  const limiterFactory = createLimiterFactory({ redis, dataSource });
  const rateLimits = createRateLimits(limiterFactory, config.rateLimits);
  // With counters in Redis, placed locks are also written to PostgreSQL: a Redis flush never unlocks.
  const lockoutRecords = redis ? createLockoutRecordRepository(dataSource) : undefined;
  const throttle = createLoginThrottle({
    factory: limiterFactory, lockout: config.lockout, records: lockoutRecords,
    captchaAfter: config.captcha.loginFailuresBeforeCaptcha,
  });
  const altchaDifficulty = createAltchaDifficulty({ throttle, config: config.captcha });
  const secondFactorThrottle = createSecondFactorThrottle({
    factory: limiterFactory, policy: config.mfa.lockout, records: lockoutRecords,
  });
  const replayGuard = (ttlSeconds: number) => limiterFactory({ name: 'captcha-used', points: 1, durationSeconds: ttlSeconds });
  const captcha = createCaptcha({
    config: config.captcha,
    // Derived, so the signing key is the same on every instance and never doubles as a cookie key.
    hmacKey: derivedKey('altcha'),
    markUsed: (key, ttlSeconds) => replayGuard(ttlSeconds).consume(key).then(() => true, (error: unknown) => {
      if ((error as { msBeforeNext?: unknown }).msBeforeNext !== undefined) return false;
      throw error;
    }),
    logger,
  });

  const mailer = createMailer({ smtpUrl: config.smtpUrl, mailFrom: config.mailFrom, dataDir: config.dataDir, logger });
  // Email, SMS and account jobs leave through the outbox; server.ts starts its worker.
  dataSource.subscribers.push(outboxCommitSubscriber);
  const notifier = createAccountNotifier({ db, logger });
  const outbox = createOutboxWorker({ db, settings: config.outbox, logger, health });
  const emailRenderer = createEmailRenderer({
    productName: config.branding.productName, issuer: config.issuer, primaryColor: config.branding.primaryColor,
    cache: config.nodeEnv !== 'development',
  });
  const breachChecker = config.passwordPolicy.hibp.enabled
    ? createBreachChecker({ baseUrl: config.passwordPolicy.hibp.baseUrl, timeoutMs: config.passwordPolicy.hibp.timeoutMs, logger })
    : undefined;
  const policy = createPasswordPolicy({ policy: config.passwordPolicy, breachChecker });
  const hashRecoveryCode = recoveryCodeHasher(derivedKey('recovery codes'));
  const accountLinks = createAccountLinks(config.issuer);
  // "Was this you?" emails for every factor added or removed and every new set of recovery codes.
  const securityNotices = createSecurityNotices({ db, notifier, links: accountLinks, now: options.now });
  const mfa = createMfaService({
    db, secretBox, notifier, totpIssuer: config.branding.productName, hashRecoveryCode, notices: securityNotices,
  });
  const secondFactorGuard = createSecondFactorGuard({
    throttle: secondFactorThrottle, db, notifier, links: accountLinks, policy: config.mfa.lockout,
  });
  const flowDeps = {
    db, hasher, policy, notifier, settings: config.accounts, links: accountLinks,
    revokeSessions: async (accountId: string, options?: { keepSessionId?: string }) => {
      await sessions.revokeAccount(accountId, options);
      // Ending every session also ends every device's "trust this device" pass.
      if (!options?.keepSessionId) await db.repos.accounts.bumpTrustedDeviceEpoch(accountId);
    },
    revokeRefreshTokens: (accountId: string) => sessions.revokeRefreshTokens(accountId),
  };
  const registration = createRegistrationService(flowDeps);
  const emailVerification = createEmailVerificationService({ ...flowDeps, rateLimits });
  const passwordReset = createPasswordResetService({
    ...flowDeps, rateLimits,
    secondFactor: {
      hasFactors: (accountId) => mfa.hasFactors(accountId),
      // Under the second-factor lockout like every other second-factor check.
      verify: (account, code, context) =>
        secondFactorGuard.attempt(account, 'reset_code', context,
          () => mfa.verifyAppOrRecoveryCode(account, code, context)),
    },
  });
  const emailChange = createEmailChangeService(flowDeps);
  // The console provider logs codes: in production it means "no SMS", and the pages don't offer it.
  const smsEnabled = !(config.nodeEnv === 'production' && config.sms.provider === 'console');
  const smsUnavailable = { send: async () => { throw new ServiceUnavailableError('sms_unavailable', 'SMS is not configured'); } };
  registerOutboxHandlers(outbox, {
    mailer, renderer: emailRenderer, sms: smsEnabled ? createSmsSender(config.sms, { logger }) : smsUnavailable,
    jobs: accountJobHandlers({
      notifier, links: flowDeps.links, settings: config.accounts, lockoutMaxSeconds: config.lockout.maxSeconds,
    }),
  });
  const otp = createOtpService({
    db, notifier, smsAvailable: smsEnabled, hashCode: otpCodeHasher(derivedKey('one-time codes')),
    hashRecoveryCode, productName: config.branding.productName, issuer: config.issuer, notices: securityNotices,
  });
  const issuerUrl = new URL(config.issuer);
  const webauthn = createWebAuthnService({
    db, rpName: config.branding.productName, rpId: issuerUrl.hostname, origin: issuerUrl.origin,
    challengeStore: createWebAuthnChallengeStore({ redis, sql: dataSource }), notices: securityNotices,
  });
  const trustedDevices = createTrustedDevices({
    key: derivedKey('trusted devices'),
    secure: config.issuer.startsWith('https://'), days: config.mfa.trustDeviceDays,
  });
  // notifications.newDeviceSignIn: the signed cookie that recognises a browser (interactions/new-device-notice.ts).
  const knownDevices = createKnownDevices({
    key: derivedKey('known devices'), secure: config.issuer.startsWith('https://'),
  });
  const setup = createSetupService({ db, hasher, policy, key: derivedKey('first-run setup') });
  const signIn = createSignInService({ ...flowDeps, accounts, throttle, rateLimits, lockout: config.lockout, breachChecker });
  const accountAdmin = createAccountAdminService({ db, sessionService, sessions, mfa, redis, dataSource, config });

  return {
    config, logger, dataSource, redis, db, secretBox, hasher, audit, auditTrail, accounts, clients, apis, rbac,
    apiKeys, keys,
    oidcModels, adapter, backchannel, sessions, sessionService, rateLimits, throttle, captcha, notifier, policy,
    registration, emailVerification, passwordReset, emailChange, signIn, setup, mfa, otp, smsEnabled, trustedDevices, webauthn,
    // For limits a feature sets itself (personal API key creation, src/account/api-keys-router.ts).
    limiterFactory,
    accountAdmin,
    securityNotices, knownDevices,
    altchaDifficulty, secondFactorGuard, secondFactorThrottle, lockoutRecords,
    // Which dependency is down, for readiness, the error handler and the outage log (dependency-health.ts).
    health, probes: health.readinessChecks(),
    outbox,
    async close(): Promise<void> {
      await notifier.drain();
      // Lets the delivery in flight finish before its connections go.
      await outbox.stop();
      mailer.close();
      health?.stop();
      if (redis) await redis.quit().catch(() => redis.disconnect());
      await postgresCheck.close().catch(() => {});
      await dataSource.destroy();
      await embedded?.stop();
    },
  };
}

export type Container = Awaited<ReturnType<typeof createContainer>>;
