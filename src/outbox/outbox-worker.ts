import type { AuditEventInput } from '../audit/audit-chain.js';
import type { Config } from '../config/schema.js';
import { isDependencyFailure } from '../infra/dependency-failure.js';
import type { Logger } from '../infra/logger.js';
import type { Database } from '../infra/unit-of-work.js';
import { retryDelayMs, safeErrorText } from './outbox-backoff.js';
import type { OutboxMessage } from './outbox-message.entity.js';
import type { OutboxRepository } from './outbox-repository.js';
import { onOutboxEnqueued } from './outbox-signal.js';

/** What the worker needs of a repository set; handlers get the whole set of the delivery's transaction. */
export interface OutboxRepos { outbox: OutboxRepository; audit: { append(input: AuditEventInput): Promise<unknown> } }

/**
 * Delivers one message. It runs inside a transaction that also marks the message delivered, so a
 * job's database work commits exactly once; an external send (SMTP, SMS) may repeat if the commit
 * after it fails: delivery is at least once.
 */
export type OutboxHandler<R> = (message: OutboxMessage, repos: R) => Promise<void>;

export interface HandlerOptions {
  /** Audit prefix for `<prefix>.delivered` / `<prefix>.abandoned` (email, sms); jobs audit their own work. */
  auditAs?: string;
  /** Safe details for those events (e.g. the template name), never a body or a link. */
  describe?: (message: OutboxMessage) => Record<string, unknown>;
}

export interface OutboxWorkerDeps<R extends OutboxRepos> {
  db: Database<R>;
  settings: Config['outbox'];
  logger: Logger;
  random?: () => number;
  /** Where a poll that failed for a dependency is counted (dependency-health.ts): one outage line, not one per poll. */
  health?: { requestFailed(error: unknown): void };
}

/** What a log line says of a message: never its payload (links, codes, addresses). */
const logged = (message: OutboxMessage) => ({ outboxId: message.id, kind: message.kind, attempts: message.attempts });

/** Polls outbox_messages (and wakes on this process's commits), delivering due messages with retries. */
export function createOutboxWorker<R extends OutboxRepos>(deps: OutboxWorkerDeps<R>) {
  const { db, settings, logger } = deps;
  const handlers = new Map<string, { handle: OutboxHandler<R>; options: HandlerOptions }>();
  let running: Promise<void> | undefined;
  let stopping = false;
  let wakeUp: (() => void) | undefined;
  let woken = false;
  let unsubscribe: (() => void) | undefined;

  const wake = () => {
    woken = true;
    wakeUp?.();
  };

  /** Waits for a wake signal or the poll interval, whichever comes first. */
  function idle(): Promise<void> {
    if (woken || stopping) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, settings.pollIntervalSeconds * 1000);
      function done() {
        clearTimeout(timer);
        wakeUp = undefined;
        resolve();
      }
      wakeUp = done;
    });
  }

  async function finish(message: OutboxMessage, error: unknown): Promise<void> {
    const reason = safeErrorText(error);
    const options: HandlerOptions = handlers.get(message.kind)?.options ?? {};
    const aged = Date.now() - message.queuedAt.getTime() >= settings.maxAgeSeconds * 1000;
    if (message.attempts < settings.maxAttempts && !aged) {
      const next = new Date(Date.now() + retryDelayMs(message.attempts, settings, deps.random));
      await db.repos.outbox.markFailed(message.id, reason, next);
      logger.warn({ ...logged(message), error: reason }, 'outbox delivery failed; will retry');
      return;
    }
    await db.transaction(async (repos) => {
      await repos.outbox.markDead(message.id, reason);
      await repos.audit.append({
        type: `${options.auditAs ?? 'outbox'}.abandoned`, actor: 'system', accountId: message.accountId ?? undefined,
        details: {
          messageId: message.id, kind: message.kind, attempts: message.attempts, error: reason,
          ...options.describe?.(message),
        },
      });
    });
    logger.error({ ...logged(message), error: reason }, 'outbox message abandoned (dead)');
  }

  /** One message: the handler and the "delivered" mark (and audit) in one transaction. */
  async function deliver(message: OutboxMessage): Promise<void> {
    const entry = handlers.get(message.kind);
    try {
      if (!entry) throw new Error(`no handler for outbox kind ${message.kind}`);
      await db.transaction(async (repos) => {
        await entry.handle(message, repos);
        await repos.outbox.markDelivered(message.id);
        if (entry.options.auditAs) {
          await repos.audit.append({
            type: `${entry.options.auditAs}.delivered`, actor: 'system', accountId: message.accountId ?? undefined,
            details: { messageId: message.id, attempts: message.attempts, ...entry.options.describe?.(message) },
          });
        }
      });
    } catch (error) {
      await finish(message, error);
    }
  }

  /** Claims and delivers due messages until none are left (or the worker stops); returns how many it handled. */
  async function deliverDue(): Promise<number> {
    let handled = 0;
    for (;;) {
      woken = false;
      const batch = await db.repos.outbox.claimDue(settings.batchSize, settings.leaseSeconds);
      for (const [index, message] of batch.entries()) {
        if (stopping) {
          // Claimed but not started: back to the table at once, for this or another instance.
          await db.repos.outbox.release(batch.slice(index).map((m) => m.id));
          return handled;
        }
        await deliver(message);
        handled += 1;
      }
      if (batch.length < settings.batchSize) return handled;
    }
  }

  async function loop(): Promise<void> {
    while (!stopping) {
      try {
        await deliverDue();
      } catch (error) {
        // Try again at the next poll. An outage is the health tracker's to log, once; anything else is a bug.
        if (deps.health && isDependencyFailure(error)) deps.health.requestFailed(error);
        else logger.error({ err: error }, 'outbox poll failed');
      }
      await idle();
    }
  }

  return {
    /** Registers the handler for a message kind. */
    register(kind: string, handle: OutboxHandler<R>, options: HandlerOptions = {}): void {
      handlers.set(kind, { handle, options });
    },
    /** Starts polling; commits in this process that enqueue wake it at once. */
    start(): void {
      if (running) return;
      stopping = false;
      unsubscribe = onOutboxEnqueued(wake);
      running = loop();
    },
    /** Delivers what is due now, in the caller's turn (tests). */
    deliverDue,
    /** Stops after the delivery in flight; claimed messages not yet started go back to the table. */
    async stop(): Promise<void> {
      stopping = true;
      unsubscribe?.();
      wakeUp?.();
      await running;
      running = undefined;
    },
  };
}

export type OutboxWorker<R extends OutboxRepos> = ReturnType<typeof createOutboxWorker<R>>;
