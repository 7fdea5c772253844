import type { EntityManager, EntitySubscriberInterface, QueryRunner, TransactionCommitEvent,
  TransactionRollbackEvent } from 'typeorm';
import type { OutboxMessage, OutboxStatus } from './outbox-message.entity.js';
import { signalOutboxEnqueued } from './outbox-signal.js';

export interface NewOutboxMessage { kind: string; payload: Record<string, unknown>; accountId?: string | null }

interface OutboxRow {
  id: string; kind: string; payload: Record<string, unknown>; status: OutboxStatus; attempts: number;
  next_attempt_at: Date; last_error: string | null; account_id: string | null; queued_at: Date;
  created_at: Date; updated_at: Date; delivered_at: Date | null;
}

const columns = `id, kind, payload, status, attempts, next_attempt_at, last_error, account_id, queued_at,
  created_at, updated_at, delivered_at`;

const fromRow = (row: OutboxRow): OutboxMessage => ({
  id: row.id, kind: row.kind, payload: row.payload, status: row.status, attempts: row.attempts,
  nextAttemptAt: row.next_attempt_at, lastError: row.last_error, accountId: row.account_id, queuedAt: row.queued_at,
  createdAt: row.created_at, updatedAt: row.updated_at, deliveredAt: row.delivered_at,
});

// pg answers an UPDATE … RETURNING through TypeORM as [rows, count].
const rowsOf = (result: unknown): OutboxRow[] =>
  (Array.isArray(result) && Array.isArray(result[0]) ? result[0] : result) as OutboxRow[];

/** Transactions that enqueued something: the worker is woken when they commit, not before. */
const enqueuedIn = new WeakSet<QueryRunner>();

/** A TypeORM subscriber that signals the workers after a transaction that enqueued commits. */
export const outboxCommitSubscriber: EntitySubscriberInterface = {
  afterTransactionCommit(event: TransactionCommitEvent) {
    // A released savepoint broadcasts too: only the outermost commit makes the rows visible.
    if (!event.queryRunner.isTransactionActive && enqueuedIn.delete(event.queryRunner)) signalOutboxEnqueued();
  },
  afterTransactionRollback(event: TransactionRollbackEvent) {
    if (!event.queryRunner.isTransactionActive) enqueuedIn.delete(event.queryRunner);
  },
};

/** outbox_messages over `manager`: inserts join the caller's transaction, so a message commits with its cause. */
export function createOutboxRepository(manager: EntityManager) {
  return {
    /** One INSERT whatever the message: the request path costs the same for every identifier. */
    async insert(message: NewOutboxMessage): Promise<string> {
      const [row] = await manager.query(
        `INSERT INTO outbox_messages (kind, payload, account_id) VALUES ($1, $2, $3) RETURNING id`,
        [message.kind, JSON.stringify(message.payload), message.accountId ?? null]) as Array<{ id: string }>;
      const runner = manager.queryRunner;
      if (runner?.isTransactionActive) enqueuedIn.add(runner);
      else signalOutboxEnqueued();
      return row!.id;
    },

    /**
     * Claims up to `limit` due messages for `leaseSeconds`: SKIP LOCKED lets several workers claim
     * at once without taking the same row, and the lease (next_attempt_at moved ahead) keeps a
     * claimed row from being claimed again until it runs out, e.g. after its worker died.
     */
    async claimDue(limit: number, leaseSeconds: number): Promise<OutboxMessage[]> {
      const result: unknown = await manager.query(
        `UPDATE outbox_messages SET attempts = attempts + 1, updated_at = now(),
                next_attempt_at = now() + make_interval(secs => $2)
          WHERE id IN (SELECT id FROM outbox_messages WHERE status = 'pending' AND next_attempt_at <= now()
                        ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED)
          RETURNING ${columns}`, [limit, leaseSeconds]);
      return rowsOf(result).map(fromRow).sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
    },

    async markDelivered(id: string): Promise<void> {
      await manager.query(
        `UPDATE outbox_messages SET status = 'delivered', delivered_at = now(), updated_at = now(), last_error = NULL
          WHERE id = $1`, [id]);
    },

    /** Schedules another attempt after a failure. */
    async markFailed(id: string, error: string, nextAttemptAt: Date): Promise<void> {
      await manager.query(
        `UPDATE outbox_messages SET last_error = $2, next_attempt_at = $3, updated_at = now() WHERE id = $1`,
        [id, error, nextAttemptAt]);
    },

    /** Dead-letters a message: no more attempts until an operator retries it. */
    async markDead(id: string, error: string): Promise<void> {
      await manager.query(
        `UPDATE outbox_messages SET status = 'dead', last_error = $2, updated_at = now() WHERE id = $1`, [id, error]);
    },

    /** Hands claimed, unstarted messages back (shutdown): due now, the claim not counted as an attempt. */
    async release(ids: string[]): Promise<void> {
      if (!ids.length) return;
      await manager.query(
        `UPDATE outbox_messages SET next_attempt_at = now(), attempts = greatest(attempts - 1, 0), updated_at = now()
          WHERE id = ANY($1::uuid[]) AND status = 'pending'`, [ids]);
    },

    /** Makes a dead (or pending) message due now with a fresh round of attempts; false when there is none such. */
    async retry(id: string): Promise<boolean> {
      const result: unknown = await manager.query(
        `UPDATE outbox_messages SET status = 'pending', attempts = 0, next_attempt_at = now(), queued_at = now(),
                updated_at = now() WHERE id = $1 AND status <> 'delivered' RETURNING id`, [id]);
      const retried = rowsOf(result).length > 0;
      if (retried) signalOutboxEnqueued();
      return retried;
    },

    /** Every dead message back to pending; returns how many. */
    async retryDead(): Promise<number> {
      const result: unknown = await manager.query(
        `UPDATE outbox_messages SET status = 'pending', attempts = 0, next_attempt_at = now(), queued_at = now(),
                updated_at = now() WHERE status = 'dead' RETURNING id`);
      const count = rowsOf(result).length;
      if (count) signalOutboxEnqueued();
      return count;
    },

    /** Deletes up to `limit` messages delivered before `before` (dead ones stay for an operator). */
    async deleteDeliveredBefore(before: Date, limit: number): Promise<number> {
      const result: unknown = await manager.query(
        `DELETE FROM outbox_messages WHERE id IN (SELECT id FROM outbox_messages
          WHERE status = 'delivered' AND delivered_at < $1 LIMIT $2) RETURNING id`, [before, limit]);
      return rowsOf(result).length;
    },

    async findById(id: string): Promise<OutboxMessage | null> {
      const rows = await manager.query(`SELECT ${columns} FROM outbox_messages WHERE id = $1`, [id]) as OutboxRow[];
      return rows[0] ? fromRow(rows[0]) : null;
    },

    /** Newest first, optionally of one status. */
    async list(options: { status?: OutboxStatus; limit: number }): Promise<OutboxMessage[]> {
      const rows = await manager.query(
        `SELECT ${columns} FROM outbox_messages WHERE ($1::text IS NULL OR status = $1)
          ORDER BY created_at DESC, id LIMIT $2`, [options.status ?? null, options.limit]) as OutboxRow[];
      return rows.map(fromRow);
    },
  };
}

export type OutboxRepository = ReturnType<typeof createOutboxRepository>;
