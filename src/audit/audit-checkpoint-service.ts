import { BadRequestError, ConflictError, NotFoundError } from '../errors/app-error.js';
import type { Logger } from '../infra/logger.js';
import { GENESIS_PREV_HASH } from './audit-chain.js';
import { walkChain } from './audit-chain-walk.js';
import type { AuditCheckpoint, AuditCheckpointRepository } from './audit-checkpoint-repository.js';
import type { AuditRepository } from './audit-repository.js';
import { toExportLine } from './audit-service.js';
import {
  CHECKPOINT_TYP, checkpointDigest, type CheckpointPayload, type CheckpointSigner,
} from './checkpoint-signer.js';

export interface CheckpointRepositories { checkpoints: AuditCheckpointRepository; events: AuditRepository }

export interface AuditCheckpointDeps {
  /** Repositories on the pool, for reads. */
  checkpoints: AuditCheckpointRepository;
  events: AuditRepository;
  /** Runs `work` in one transaction with repositories bound to it. */
  transaction<T>(work: (repos: CheckpointRepositories) => Promise<T>): Promise<T>;
  /** Absent when no `audit.checkpoint.key` is configured. */
  signer?: CheckpointSigner;
  logger: Logger;
  batchSize?: number;
}

export interface CheckpointWriteResult { written: boolean; checkpoint: AuditCheckpoint }

export interface AuditCheckpointService {
  /** Whether a signing key is configured. */
  readonly enabled: boolean;
  readonly signer: CheckpointSigner | undefined;
  /**
   * Verifies the events since the newest checkpoint and signs a new one over the chain's head.
   * Without `force`, a head that has not moved since the newest checkpoint writes nothing.
   */
  write(options?: { force?: boolean }): Promise<CheckpointWriteResult>;
  /** The checkpoint line and every event after it (the newest checkpoint, or `checkpointId`), as JSON lines. */
  exportSinceCheckpoint(
    checkpointId: string | undefined, write: (line: string) => void | Promise<void>): Promise<number>;
}

/** The export's first line: the checkpoint an external copy continues from. */
export function checkpointLine(checkpoint: AuditCheckpoint): string {
  return JSON.stringify({ checkpoint: { ...checkpoint, createdAt: checkpoint.createdAt.toISOString() } });
}

/** Whether a stored row says what its JWS payload says. */
export function payloadMatches(checkpoint: AuditCheckpoint, payload: CheckpointPayload): boolean {
  return payload.typ === CHECKPOINT_TYP && payload.lastEventId === checkpoint.lastEventId
    && payload.lastHash === checkpoint.lastHash && payload.count === checkpoint.count;
}

/** Writes, and exports from, signed checkpoints of the audit chain (README "Audit checkpoints"). */
export function createAuditCheckpointService(deps: AuditCheckpointDeps): AuditCheckpointService {
  const batchSize = deps.batchSize ?? 500;
  const requireSigner = () => {
    if (!deps.signer) {
      throw new BadRequestError('audit_checkpoint_key_missing',
        'no audit checkpoint key is configured (audit.checkpoint.key, PORTCULLIS_AUDIT_CHECKPOINT_KEY)');
    }
    return deps.signer;
  };

  return {
    enabled: deps.signer !== undefined,
    signer: deps.signer,

    async write(options = {}) {
      const signer = requireSigner();
      const result = await deps.transaction(async ({ checkpoints, events }) => {
        await checkpoints.lock();
        const head = (await checkpoints.head()) ?? { id: '0', hash: GENESIS_PREV_HASH };
        const previous = await checkpoints.newest();
        if (previous && previous.lastEventId === head.id && !options.force) {
          return { written: false, checkpoint: previous };
        }
        // Never sign over a chain already tampered with: check the previous anchor, then what followed it.
        // One made with another (earlier) key cannot be checked here, so the walk starts from the genesis.
        const anchor = previous?.kid === signer.kid ? previous : undefined;
        if (anchor) {
          const payload = await signer.verify(anchor.jws).catch(() => undefined);
          if (!payload || !payloadMatches(anchor, payload)) {
            throw new ConflictError('audit_checkpoint_invalid',
              `checkpoint ${anchor.id} does not verify: run audit verify`);
          }
        }
        const walk = await walkChain((afterId, limit) => events.readBatch(afterId, limit), {
          afterId: anchor?.lastEventId ?? '0', prevHash: anchor?.lastHash ?? GENESIS_PREV_HASH, untilId: head.id,
        }, batchSize);
        if (!walk.ok || walk.lastId !== head.id) {
          throw new ConflictError('audit_chain_broken',
            `the audit chain does not verify after event ${walk.lastId}: run audit verify`);
        }
        const createdAt = new Date();
        const payload: CheckpointPayload = {
          typ: CHECKPOINT_TYP, lastEventId: head.id, lastHash: head.hash, count: (anchor?.count ?? 0) + walk.count,
          createdAt: createdAt.toISOString(), prev: previous ? checkpointDigest(previous.jws) : null,
        };
        const jws = await signer.sign(payload);
        const checkpoint = await checkpoints.insert({
          createdAt, lastEventId: head.id, lastHash: head.hash, count: payload.count, kid: signer.kid, jws,
        });
        return { written: true, checkpoint };
      });
      if (result.written) {
        // The JWS in the logs is an off-box copy: log shipping keeps what an owner could delete here.
        const { checkpoint } = result;
        const { id, lastEventId, count, jws } = checkpoint;
        deps.logger.info({ auditCheckpoint: { id, lastEventId, count, jws } }, 'audit checkpoint written');
      }
      return result;
    },

    async exportSinceCheckpoint(checkpointId, write) {
      const checkpoint = checkpointId === undefined
        ? await deps.checkpoints.newest()
        : await deps.checkpoints.findById(checkpointId);
      if (!checkpoint) {
        throw new NotFoundError('audit_checkpoint_not_found', checkpointId === undefined
          ? 'no audit checkpoint yet: run audit checkpoint'
          : `no audit checkpoint ${checkpointId}`);
      }
      await write(checkpointLine(checkpoint));
      let afterId = checkpoint.lastEventId;
      let count = 0;
      for (;;) {
        const batch = await deps.events.readBatch(afterId, batchSize);
        for (const event of batch) await write(toExportLine(event));
        count += batch.length;
        if (batch.length < batchSize) return count;
        afterId = batch[batch.length - 1]!.id;
      }
    },
  };
}
