import { startPeriodicTask } from '../../infra/periodic-task.js';
import type { OidcModelRepository } from './oidc-model-repository.js';

/** The two log calls the cleaner makes; a pino Logger fits. */
export interface CleanerLogger {
  info(details: object, message: string): void;
  error(details: object, message: string): void;
}

export interface DeleteExpiredOptions {
  repository: Pick<OidcModelRepository, 'deleteExpired'>;
  /** Rows per DELETE; small enough that no statement holds many row locks for long. */
  batchSize?: number;
  /** Batches per run, so one run after a long outage cannot monopolise the database. */
  maxBatches?: number;
  /** Clock in epoch milliseconds, the same one the adapters use. */
  now?: () => number;
}

export interface ExpiredModelCleanerOptions extends DeleteExpiredOptions {
  intervalSeconds: number;
  logger: CleanerLogger;
}

/** Deletes expired oidc-provider rows in bounded batches until none are left (or maxBatches); returns the count. */
export async function deleteExpired({ repository, batchSize = 1000, maxBatches = 100, now = Date.now }: DeleteExpiredOptions): Promise<number> {
  let total = 0;
  for (let batch = 0; batch < maxBatches; batch += 1) {
    const deleted = await repository.deleteExpired(batchSize, new Date(now()));
    total += deleted;
    if (deleted < batchSize) break;
  }
  return total;
}

/**
 * Runs deleteExpired every `intervalSeconds`. Postgres does not expire rows by itself (Redis does);
 * the adapters already hide expired rows, so this only reclaims space. Runs never overlap, and the
 * timer is unref'd so it never keeps the process alive.
 */
export function startExpiredModelCleaner(options: ExpiredModelCleanerOptions): { stop(): void } {
  const { intervalSeconds, logger } = options;
  return startPeriodicTask({
    intervalSeconds,
    async task() {
      const deleted = await deleteExpired(options);
      if (deleted > 0) logger.info({ deleted }, 'deleted expired oidc model instances');
    },
    onError: (error) => logger.error({ err: error }, 'expired oidc model cleanup failed'),
  });
}
