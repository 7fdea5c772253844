import type { EntityManager } from './infra/data-source.js';
import { createApiKeyRepository } from './api-keys/api-key-repository.js';
import { ApiKeyEntity } from './api-keys/api-key.entity.js';
import { createApiRepository } from './apis/api-repository.js';
import { ApiEntity } from './apis/api.entity.js';
import { createAccountRepository } from './accounts/account-repository.js';
import { createAccountTokenRepository } from './accounts/account-token-repository.js';
import { AccountTokenEntity } from './accounts/account-token.entity.js';
import { AccountEntity } from './accounts/account.entity.js';
import { createAuditRepository } from './audit/audit-repository.js';
import { AuditEventEntity } from './audit/audit-event.entity.js';
import { createClientRepository } from './clients/client-repository.js';
import { ClientEntity } from './clients/client.entity.js';
import { createSigningKeyRepository } from './keys/signing-key-repository.js';
import { SigningKeyEntity } from './keys/signing-key.entity.js';
import { createMfaFactorRepository } from './mfa/mfa-factor-repository.js';
import { MfaFactorEntity } from './mfa/mfa-factor.entity.js';
import { createRecoveryCodeRepository } from './mfa/recovery-code-repository.js';
import { createOtpChallengeRepository } from './mfa/otp-challenge-repository.js';
import { createRoleRepository } from './rbac/role-repository.js';
import { RoleEntity } from './rbac/role.entity.js';
import { createSessionMetadataRepository } from './sessions/session-metadata-repository.js';
import { SessionMetadataEntity } from './sessions/session-metadata.entity.js';
import { createOutboxRepository } from './outbox/outbox-repository.js';
import { OutboxMessageEntity } from './outbox/outbox-message.entity.js';

/** Every entity schema TypeORM must know. */
export const entities = [AccountEntity, AccountTokenEntity, RoleEntity, ClientEntity, SigningKeyEntity,
  AuditEventEntity, MfaFactorEntity, SessionMetadataEntity, ApiKeyEntity, ApiEntity,
  OutboxMessageEntity];

/** The repository set bound to one EntityManager (the pool, or one transaction). */
export function repositoriesFor(manager: EntityManager) {
  return {
    accounts: createAccountRepository(manager),
    accountTokens: createAccountTokenRepository(manager),
    roles: createRoleRepository(manager),
    clients: createClientRepository(manager),
    signingKeys: createSigningKeyRepository(manager),
    audit: createAuditRepository(manager),
    mfaFactors: createMfaFactorRepository(manager),
    recoveryCodes: createRecoveryCodeRepository(manager),
    otpChallenges: createOtpChallengeRepository(manager),
    sessionMetadata: createSessionMetadataRepository(manager),
    apiKeys: createApiKeyRepository(manager),
    apis: createApiRepository(manager),
    outbox: createOutboxRepository(manager),
  };
}

export type Repositories = ReturnType<typeof repositoriesFor>;
