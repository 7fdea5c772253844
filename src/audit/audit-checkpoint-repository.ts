import type { EntityManager } from 'typeorm';

/**
 * Key of the transaction-level advisory lock that makes checkpoint writers take turns, so two
 * instances never fork the checkpoint links. Distinct from the append lock ("portcull" + 1).
 */
export const AUDIT_CHECKPOINT_LOCK_KEY = '8101820098873224301';

/** One stored checkpoint; ids are bigints kept as strings. */
export interface AuditCheckpoint {
  id: string;
  createdAt: Date;
  lastEventId: string;
  lastHash: string;
  count: number;
  kid: string;
  jws: string;
}

export interface AuditCheckpointRepository {
  /** Waits for the checkpoint lock; held until the manager's transaction ends. */
  lock(): Promise<void>;
  /** The chain's newest event (id and hash), or null for an empty chain. */
  head(): Promise<{ id: string; hash: string } | null>;
  newest(): Promise<AuditCheckpoint | null>;
  findById(id: string): Promise<AuditCheckpoint | null>;
  /** Up to `limit` checkpoints with id > `afterId`, oldest first. */
  readBatch(afterId: string, limit: number): Promise<AuditCheckpoint[]>;
  insert(checkpoint: Omit<AuditCheckpoint, 'id' | 'createdAt'> & { createdAt: Date }): Promise<AuditCheckpoint>;
}

interface CheckpointRow {
  id: string; created_at: Date; last_event_id: string; last_hash: string; event_count: string; kid: string; jws: string;
}

const COLUMNS = 'id::text AS id, created_at, last_event_id::text AS last_event_id, last_hash, '
  + 'event_count::text AS event_count, kid, jws';

function fromRow(row: CheckpointRow): AuditCheckpoint {
  return {
    id: row.id, createdAt: row.created_at, lastEventId: row.last_event_id, lastHash: row.last_hash,
    count: Number(row.event_count), kid: row.kid, jws: row.jws,
  };
}

/** The audit_checkpoints repository over `manager` (pass a transaction's manager to lock). */
export function createAuditCheckpointRepository(manager: EntityManager): AuditCheckpointRepository {
  const many = async (sql: string, params: unknown[] = []) =>
    ((await manager.query(sql, params)) as CheckpointRow[]).map(fromRow);
  const one = async (sql: string, params: unknown[] = []) => (await many(sql, params))[0] ?? null;
  return {
    async lock() {
      await manager.query('SELECT pg_advisory_xact_lock($1::bigint)', [AUDIT_CHECKPOINT_LOCK_KEY]);
    },
    async head() {
      const rows = (await manager.query('SELECT id::text AS id, hash FROM audit_events ORDER BY id DESC LIMIT 1')) as
        Array<{ id: string; hash: string }>;
      return rows[0] ?? null;
    },
    newest: () => one(`SELECT ${COLUMNS} FROM audit_checkpoints ORDER BY id DESC LIMIT 1`),
    findById: (id) => one(`SELECT ${COLUMNS} FROM audit_checkpoints WHERE id = $1::bigint`, [id]),
    readBatch: (afterId, limit) =>
      many(`SELECT ${COLUMNS} FROM audit_checkpoints WHERE id > $1::bigint ORDER BY id LIMIT $2`, [afterId, limit]),
    async insert(checkpoint) {
      const row = await one(
        `INSERT INTO audit_checkpoints (created_at, last_event_id, last_hash, event_count, kid, jws)
         VALUES ($1, $2::bigint, $3, $4::bigint, $5, $6) RETURNING ${COLUMNS}`,
        [checkpoint.createdAt, checkpoint.lastEventId, checkpoint.lastHash, checkpoint.count, checkpoint.kid,
          checkpoint.jws]);
      return row!;
    },
  };
}
