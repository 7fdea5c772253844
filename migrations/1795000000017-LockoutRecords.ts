import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The durable half of the progressive lockout: a row per (purpose, subject) that was ever locked,
 * written when a lock is placed, so that a Redis restart (or FLUSHALL, or eviction) never unlocks
 * an account. The hot counters stay in Redis; this table is read only when Redis has no record.
 */
export class LockoutRecords1795000000017 implements MigrationInterface {
  name = 'LockoutRecords1795000000017';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE lockout_records (
        purpose varchar(32) NOT NULL,
        subject_key varchar(64) NOT NULL,
        level integer NOT NULL,
        locked_until timestamptz,
        forget_at timestamptz,
        PRIMARY KEY (purpose, subject_key)
      )`);
    await db.query('CREATE INDEX lockout_records_forget_at ON lockout_records (forget_at) WHERE forget_at IS NOT NULL');
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query('DROP TABLE lockout_records');
  }
}
