import { eventContent, GENESIS_PREV_HASH, hashEvent, type AuditEvent, type AuditEventInput } from './audit-chain.js';
import { BadRequestError } from '../errors/app-error.js';
import type { AuditRepository } from './audit-repository.js';

export type { AuditEvent, AuditEventInput };

/** The event types recorded so far; features add theirs here so names stay stable for readers. */
export const AuditEventType = {
  clientCreated: 'client.created',
  clientUpdated: 'client.updated',
  clientDeleted: 'client.deleted',
  clientSecretRotated: 'client.secret_rotated',
  keyCreated: 'key.created',
  keyRotated: 'key.rotated',
  keyRetired: 'key.retired',
  accountCreated: 'account.created',
  accountDisabled: 'account.disabled',
  accountEnabled: 'account.enabled',
  roleAssigned: 'role.assigned',
  loginSucceeded: 'login.succeeded',
  loginFailed: 'login.failed',
  apiKeyCreated: 'api_key.created',
  apiKeyRotated: 'api_key.rotated',
  apiKeyRevoked: 'api_key.revoked',
  // The outbox (src/outbox/): "queued" at enqueue, "delivered" or "abandoned" (dead) from the worker.
  emailQueued: 'email.queued',
  emailDelivered: 'email.delivered',
  emailAbandoned: 'email.abandoned',
  smsQueued: 'sms.queued',
  smsDelivered: 'sms.delivered',
  smsAbandoned: 'sms.abandoned',
  outboxAbandoned: 'outbox.abandoned',
  outboxRetried: 'outbox.retried',
} as const;
export type AuditEventTypeName = (typeof AuditEventType)[keyof typeof AuditEventType];

/**
 * Why verification stopped: `hash_mismatch` — the row's content (or hash) was changed;
 * `prev_hash_mismatch` — the row does not follow the one before it (a row was deleted or re-linked).
 */
export type AuditVerifyResult =
  | { ok: true; count: number }
  | { ok: false; count: number; brokenId: string; reason: 'hash_mismatch' | 'prev_hash_mismatch' };

export interface AuditServiceDeps<M> {
  /** A repository bound to `manager` (a caller's transaction) or, without one, to the default manager. */
  repositoryFor: (manager?: M) => AuditRepository;
  /** Rows per read when verifying or exporting; the table is never loaded whole. */
  batchSize?: number;
}

/** `audit.query`'s filter: every given field must match; `cursor` is a previous page's `nextCursor`. */
export interface AuditQueryFilter {
  accountId?: string;
  actor?: string;
  type?: string;
  clientId?: string;
  /** occurred_at ≥ since. */
  since?: Date;
  /** occurred_at < until. */
  until?: Date;
  cursor?: string;
  limit: number;
}

/** An event as readers see it: the chain's hashes are left to `audit verify` and exports. */
export type AuditEventView = Omit<AuditEvent, 'prevHash' | 'hash'>;

export interface AuditPage { items: AuditEventView[]; nextCursor: string | null }

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The cursor is the last id of the page, opaque to callers (base64url), so its form may change. */
const encodeCursor = (id: string) => Buffer.from(`id:${id}`, 'utf8').toString('base64url');
function decodeCursor(cursor: string): string {
  const match = /^id:(\d{1,19})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!match) throw new BadRequestError('invalid_cursor', 'cursor is not one this API handed out');
  return match[1]!;
}

export interface AuditService<M> {
  /**
   * Appends an event; pass the caller's transaction manager so the event commits or rolls back
   * with the change it describes. The chain lock is held until that transaction ends, so record
   * as the transaction's last step.
   */
  record(event: AuditEventInput, manager?: M): Promise<AuditEvent>;
  /** Walks the whole chain in id order; `count` is how many rows checked out before any break. */
  verify(): Promise<AuditVerifyResult>;
  /** Streams events that occurred at or after `since` as JSON lines, in id order; returns the count. */
  exportSince(since: Date, write: (line: string) => void | Promise<void>): Promise<number>;
  /** An account's events, newest first; page with the last seen id as `beforeId`. */
  listForAccount(accountId: string, options: { limit: number; beforeId?: string }): Promise<AuditEvent[]>;
  /** Events matching `filter`, newest first, a page at a time (keyset paging on the id, never OFFSET). */
  query(filter: AuditQueryFilter): Promise<AuditPage>;
}

/** One export line: the stored row, occurredAt as an ISO string, hashes included for re-verification. */
export function toExportLine(event: AuditEvent): string {
  return JSON.stringify({ ...event, occurredAt: event.occurredAt.toISOString() });
}

/** The audit service; `M` is whatever transaction handle `repositoryFor` accepts (an EntityManager). */
export function createAuditService<M>(deps: AuditServiceDeps<M>): AuditService<M> {
  const batchSize = deps.batchSize ?? 500;

  return {
    record(event, manager) {
      return deps.repositoryFor(manager).append(event);
    },

    async verify() {
      const repository = deps.repositoryFor();
      let expectedPrev = GENESIS_PREV_HASH;
      let afterId = '0';
      let count = 0;
      for (;;) {
        const batch = await repository.readBatch(afterId, batchSize);
        for (const event of batch) {
          // Check the link first: after a deletion the survivor's own hash is still valid.
          if (event.prevHash !== expectedPrev) return { ok: false, count, brokenId: event.id, reason: 'prev_hash_mismatch' };
          if (hashEvent(event.prevHash, eventContent(event)) !== event.hash) {
            return { ok: false, count, brokenId: event.id, reason: 'hash_mismatch' };
          }
          expectedPrev = event.hash;
          count += 1;
        }
        if (batch.length < batchSize) return { ok: true, count };
        afterId = batch[batch.length - 1].id;
      }
    },

    async exportSince(since, write) {
      const repository = deps.repositoryFor();
      const firstId = await repository.firstIdSince(since);
      if (firstId === null) return 0;
      // Start the id cursor just before the first match so later batches walk the primary key.
      let afterId = (BigInt(firstId) - 1n).toString();
      let count = 0;
      for (;;) {
        const batch = await repository.readSince(since, afterId, batchSize);
        for (const event of batch) await write(toExportLine(event));
        count += batch.length;
        if (batch.length < batchSize) return count;
        afterId = batch[batch.length - 1].id;
      }
    },

    listForAccount(accountId, options) {
      return deps.repositoryFor().listForAccount(accountId, options);
    },

    async query({ cursor, limit, ...filter }) {
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new BadRequestError('invalid_limit', 'limit must be a whole number from 1 to 1000');
      // account_id is a uuid column: anything else could match nothing, and Postgres would refuse it.
      if (filter.accountId !== undefined && !UUID.test(filter.accountId)) throw new BadRequestError('invalid_account_id', 'accountId must be a UUID');
      for (const key of ['since', 'until'] as const) {
        if (filter[key] !== undefined && Number.isNaN(filter[key].getTime())) throw new BadRequestError('invalid_date', `${key} is not a valid date`);
      }
      const beforeId = cursor === undefined ? undefined : decodeCursor(cursor);
      // One more than asked tells whether another page exists.
      const rows = await deps.repositoryFor().query(filter, { limit: limit + 1, beforeId });
      const items = rows.slice(0, limit).map(({ prevHash: _prev, hash: _hash, ...event }) => event);
      return { items, nextCursor: rows.length > limit ? encodeCursor(items.at(-1)!.id) : null };
    },
  };
}
