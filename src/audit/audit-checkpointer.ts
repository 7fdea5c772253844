import type { Logger } from '../infra/logger.js';
import { startPeriodicTask } from '../infra/periodic-task.js';
import type { AuditCheckpointService } from './audit-checkpoint-service.js';

export interface AuditCheckpointerOptions {
  checkpoints: AuditCheckpointService;
  intervalSeconds: number;
  logger: Logger;
}

/**
 * Writes a checkpoint every `intervalSeconds` when the chain's head moved. Every instance runs one:
 * writers take turns under an advisory lock and the second finds the head already covered.
 */
export function startAuditCheckpointer(options: AuditCheckpointerOptions): { stop(): void } {
  const { checkpoints, intervalSeconds, logger } = options;
  if (!checkpoints.enabled || intervalSeconds === 0) return { stop() {} };
  return startPeriodicTask({
    intervalSeconds,
    task: async () => { await checkpoints.write(); },
    // A broken chain keeps failing (and saying so) until someone runs `audit verify`; a database
    // restart is retried at the next tick.
    onError: (error) => logger.error({ err: error }, 'audit checkpoint failed'),
  });
}
