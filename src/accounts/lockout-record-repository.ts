import type { DataSource } from '../infra/data-source.js';

/** The durable part of one lock: its level, and until when it holds (null: until unlocked). */
export interface LockoutRecord {
  level: number;
  /** null: permanent, only an unlock lifts it. */
  lockedUntil: Date | null;
  /** When the level may be forgotten (the lock's end plus the failure memory); null: never. */
  forgetAt: Date | null;
}

/** lockout_records (migration 1795000000017): written when a lock is placed, read when Redis has no record. */
export interface LockoutRecordRepository {
  find(purpose: string, subjectKey: string): Promise<LockoutRecord | undefined>;
  save(purpose: string, subjectKey: string, record: LockoutRecord): Promise<void>;
  delete(purpose: string, subjectKey: string): Promise<void>;
  /** Removes the rows whose level may be forgotten; returns how many went. */
  deleteForgotten(now: Date): Promise<number>;
}

type Row = { level: number; locked_until: Date | null; forget_at: Date | null };

/** Plain SQL over the DataSource: one primary-key lookup or upsert per call. */
export function createLockoutRecordRepository(dataSource: Pick<DataSource, 'query'>): LockoutRecordRepository {
  return {
    async find(purpose, subjectKey) {
      const rows = await dataSource.query(
        'SELECT level, locked_until, forget_at FROM lockout_records WHERE purpose = $1 AND subject_key = $2',
        [purpose, subjectKey],
      ) as Row[];
      const row = rows[0];
      return row ? { level: row.level, lockedUntil: row.locked_until, forgetAt: row.forget_at } : undefined;
    },
    async save(purpose, subjectKey, record) {
      await dataSource.query(
        `INSERT INTO lockout_records (purpose, subject_key, level, locked_until, forget_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (purpose, subject_key) DO UPDATE
           SET level = EXCLUDED.level, locked_until = EXCLUDED.locked_until, forget_at = EXCLUDED.forget_at`,
        [purpose, subjectKey, record.level, record.lockedUntil, record.forgetAt],
      );
    },
    async delete(purpose, subjectKey) {
      const sql = 'DELETE FROM lockout_records WHERE purpose = $1 AND subject_key = $2';
      await dataSource.query(sql, [purpose, subjectKey]);
    },
    async deleteForgotten(now) {
      const sql = 'DELETE FROM lockout_records WHERE forget_at <= $1';
      const result = await dataSource.query(sql, [now]) as [unknown, number];
      return result[1] ?? 0;
    },
  };
}
