import type { DataSource } from '../infra/data-source.js';
import type { Logger } from '../infra/logger.js';
import { createAuditCheckpointRepository } from './audit-checkpoint-repository.js';
import { createAuditCheckpointService } from './audit-checkpoint-service.js';
import { verifyExport } from './audit-export-verifier.js';
import { readAuditTablePrivileges } from './audit-privilege-repository.js';
import { createAuditRepository } from './audit-repository.js';
import { createAuditTrailVerifier } from './audit-trail-verifier.js';
import type { CheckpointSigner } from './checkpoint-signer.js';

export interface AuditTrailOptions {
  dataSource: DataSource;
  /** From `audit.checkpoint.key`; unset: no checkpoints are written and signatures are not checked. */
  signer?: CheckpointSigner;
  logger: Logger;
  batchSize?: number;
}

/** Checkpoints, whole-trail verification and the privilege read, wired to one data source. */
export function createAuditTrail(options: AuditTrailOptions) {
  const { dataSource, logger, batchSize, signer } = options;
  const events = createAuditRepository(dataSource.manager);
  const checkpointRepository = createAuditCheckpointRepository(dataSource.manager);
  const checkpoints = createAuditCheckpointService({
    checkpoints: checkpointRepository, events, signer, logger, batchSize,
    transaction: (work) => dataSource.transaction((tx) =>
      work({ checkpoints: createAuditCheckpointRepository(tx), events: createAuditRepository(tx) })),
  });
  return {
    checkpoints,
    /** The chain, every checkpoint, and truncation (`audit verify`). */
    verify: createAuditTrailVerifier({ events, checkpoints: checkpointRepository, signer, batchSize }),
    /** Checks an `audit export --since-checkpoint` copy against the configured key. */
    verifyExport(lines: string[]) {
      if (!signer) throw new Error('no audit checkpoint key is configured (audit.checkpoint.key)');
      return verifyExport(lines, signer);
    },
    /** What the connected role may do to the audit tables. */
    privileges: () => readAuditTablePrivileges(dataSource.manager),
  };
}

export type AuditTrail = ReturnType<typeof createAuditTrail>;
