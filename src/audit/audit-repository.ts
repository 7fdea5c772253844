import { LessThan, MoreThan, MoreThanOrEqual, type EntityManager, type QueryDeepPartialEntity } from 'typeorm';
import { AppError } from '../errors/app-error.js';
import {
  eventContent, GENESIS_PREV_HASH, hashEvent, prepareContent, type AuditEvent, type AuditEventInput,
} from './audit-chain.js';
import { AuditEventEntity } from './audit-event.entity.js';
import { canonicalUuid } from '../identifiers/opaque-id.js';

/**
 * Key of the transaction-level advisory lock that serialises appends across every process.
 * Arbitrary, but nothing else in the database may take the same key ("portcull" in ASCII).
 */
export const AUDIT_APPEND_LOCK_KEY = '8101820098873224300';

export interface AuditRepository {
  /** Appends one event at the head of the chain, inside the manager's transaction (or a new one). */
  append(input: AuditEventInput): Promise<AuditEvent>;
  /** Up to `limit` rows with id > `afterId`, in chain (id) order. */
  readBatch(afterId: string, limit: number): Promise<AuditEvent[]>;
  /** The smallest id among rows that occurred at or after `since`; null when there are none. */
  firstIdSince(since: Date): Promise<string | null>;
  /** Up to `limit` rows with id > `afterId` that occurred at or after `since`, in id order. */
  readSince(since: Date, afterId: string, limit: number): Promise<AuditEvent[]>;
  /** An account's events, newest first, paged by `beforeId`; served by the (account_id, id) index. */
  listForAccount(accountId: string, options: { limit: number; beforeId?: string }): Promise<AuditEvent[]>;
  /** Up to `limit` rows matching every given field, newest first, with id < `beforeId` (keyset paging). */
  query(filter: AuditRowFilter, options: { limit: number; beforeId?: string }): Promise<AuditEvent[]>;
}

/** Exact-match filters on the indexed columns, and an occurred_at window (since inclusive, until exclusive). */
export interface AuditRowFilter { accountId?: string; actor?: string; type?: string; clientId?: string; since?: Date; until?: Date }

interface AuditEventRow {
  id: string; occurred_at: Date; type: string; actor: string | null; account_id: string | null;
  client_id: string | null; ip: string | null; user_agent: string | null;
  details: Record<string, unknown>; prev_hash: string; hash: string;
}

function fromRow(row: AuditEventRow): AuditEvent {
  return {
    id: row.id, occurredAt: row.occurred_at, type: row.type, actor: row.actor, accountId: row.account_id,
    clientId: row.client_id, ip: row.ip, userAgent: row.user_agent, details: row.details,
    prevHash: row.prev_hash, hash: row.hash,
  };
}

async function appendLocked(tx: EntityManager, input: AuditEventInput): Promise<AuditEvent> {
  // The lock is held until the caller's transaction ends, so the next appender reads our row
  // as the head; READ COMMITTED gives its next statement a snapshot that includes our commit.
  const [{ isolation }] = await tx.query(
    `SELECT pg_advisory_xact_lock($1::bigint), current_setting('transaction_isolation') AS isolation`,
    [AUDIT_APPEND_LOCK_KEY]) as [{ isolation: string }];
  if (isolation !== 'read committed') {
    // A REPEATABLE READ / SERIALIZABLE snapshot may predate the lock and miss the real head: a fork.
    throw new AppError('audit_isolation_unsupported', 500, `audit append needs READ COMMITTED, not ${isolation}`);
  }
  // The database clock, read under the lock, keeps occurred_at in step with id order across
  // hosts; truncated to milliseconds so it reads back exactly as it was hashed.
  const [head] = await tx.query(
    `SELECT date_trunc('milliseconds', clock_timestamp()) AS now,
            (SELECT hash FROM audit_events ORDER BY id DESC LIMIT 1) AS last_hash`) as [{ now: Date; last_hash: string | null }];
  const prevHash = head.last_hash ?? GENESIS_PREV_HASH;
  const content = prepareContent(input, head.now);
  const hash = hashEvent(prevHash, content);
  const result = await tx.createQueryBuilder().insert().into(AuditEventEntity)
    // jsonb takes any JSON object; TypeORM's deep-partial type cannot express Record<string, unknown>.
    .values({ ...content, occurredAt: head.now, prevHash, hash } as QueryDeepPartialEntity<AuditEvent>)
    .returning('*')
    .execute();
  const stored = fromRow((result.raw as AuditEventRow[])[0]);
  // Refuse a row that would fail verification later, e.g. a value jsonb stores differently.
  if (hashEvent(prevHash, eventContent(stored)) !== hash) {
    throw new AppError('audit_content_not_round_trip', 500, 'audit event does not read back as it was hashed');
  }
  return stored;
}

/** The audit_events repository over `manager`; pass a transaction's manager to append inside it. */
export function createAuditRepository(manager: EntityManager): AuditRepository {
  const events = () => manager.getRepository(AuditEventEntity);
  return {
    async append(input) {
      if (manager.queryRunner?.isTransactionActive) return appendLocked(manager, input);
      return manager.transaction((tx) => appendLocked(tx, input));
    },
    readBatch(afterId, limit) {
      return events().find({ where: { id: MoreThan(afterId) }, order: { id: 'ASC' }, take: limit });
    },
    async firstIdSince(since) {
      const row = await events().createQueryBuilder('event')
        .select('MIN(event.id)', 'id')
        .where('event.occurredAt >= :since', { since })
        .getRawOne<{ id: string | null }>();
      return row?.id ?? null;
    },
    readSince(since, afterId, limit) {
      return events().find({
        where: { id: MoreThan(afterId), occurredAt: MoreThanOrEqual(since) }, order: { id: 'ASC' }, take: limit,
      });
    },
    listForAccount(accountId, { limit, beforeId }) {
      // Stored canonical (prepareContent); something that is no UUID names no account's events.
      const id = canonicalUuid(accountId);
      if (id === undefined) return Promise.resolve([]);
      return events().find({
        where: { accountId: id, ...(beforeId === undefined ? {} : { id: LessThan(beforeId) }) },
        order: { id: 'DESC' },
        take: limit,
      });
    },
    query(filter, { limit, beforeId }) {
      const query = events().createQueryBuilder('event').orderBy('event.id', 'DESC').limit(limit);
      if (filter.accountId !== undefined) {
        const accountId = canonicalUuid(filter.accountId);
        query.andWhere(accountId === undefined ? 'false' : 'event.accountId = :accountId', { accountId });
      }
      if (filter.actor !== undefined) query.andWhere('event.actor = :actor', { actor: filter.actor });
      if (filter.type !== undefined) query.andWhere('event.type = :type', { type: filter.type });
      if (filter.clientId !== undefined) query.andWhere('event.clientId = :clientId', { clientId: filter.clientId });
      if (filter.since !== undefined) query.andWhere('event.occurredAt >= :since', { since: filter.since });
      if (filter.until !== undefined) query.andWhere('event.occurredAt < :until', { until: filter.until });
      // The id column is bigint: compared as a number, so '10' comes after '9'.
      if (beforeId !== undefined) query.andWhere('event.id < CAST(:beforeId AS bigint)', { beforeId });
      return query.getMany();
    },
  };
}

/** `repositoryFor` for the audit service: a transaction's manager when given, else `defaultManager`. */
export function auditRepositoryFor(defaultManager: EntityManager): (manager?: EntityManager) => AuditRepository {
  return (manager) => createAuditRepository(manager ?? defaultManager);
}
