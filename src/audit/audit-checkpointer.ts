import type { Logger } from '../infra/logger.js';
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
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  if (!checkpoints.enabled || intervalSeconds === 0) return { stop() {} };

  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(run, intervalSeconds * 1000);
    timer.unref();
  };
  async function run() {
    try {
      await checkpoints.write();
    } catch (error) {
      // A broken chain keeps failing (and saying so) until someone runs `audit verify`; a database
      // restart is retried at the next tick.
      logger.error({ err: error }, 'audit checkpoint failed');
    }
    schedule();
  }

  schedule();
  return {
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
