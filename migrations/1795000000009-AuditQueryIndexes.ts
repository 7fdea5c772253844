import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Indexes for querying the audit trail newest first with keyset paging on id (the admin API and
 * console): an account's events filtered by type, and events by actor or by type across accounts.
 * An account's events alone use audit_events_account_id (account_id, id) from the initial schema,
 * and time ranges use audit_events_occurred_at; a B-tree is read backwards just as fast, so
 * `ORDER BY id DESC` needs no DESC index.
 *
 * CREATE INDEX blocks appends (sign-ins record events) while it builds: 30–60 s per index on 10
 * million rows on a busy 2-CPU machine (README "Scale"). Migrations run in one transaction, so
 * CONCURRENTLY is not available here; on a large trail, create these by hand with CONCURRENTLY
 * first — IF NOT EXISTS then skips them.
 */
export class AuditQueryIndexes1795000000009 implements MigrationInterface {
  name = 'AuditQueryIndexes1795000000009';

  async up(db: QueryRunner): Promise<void> {
    // An account's events of one type: without it a rare type walks the account's whole history.
    await db.query(`CREATE INDEX IF NOT EXISTS audit_events_account_type ON audit_events (account_id, type, id) WHERE account_id IS NOT NULL`);
    // What one admin, client or the CLI did ("admin:<id>", "client:<id>", "cli").
    await db.query(`CREATE INDEX IF NOT EXISTS audit_events_actor ON audit_events (actor, id) WHERE actor IS NOT NULL`);
    // Every event of one type, e.g. all failed sign-ins.
    await db.query(`CREATE INDEX IF NOT EXISTS audit_events_type ON audit_events (type, id)`);
  }

  async down(db: QueryRunner): Promise<void> {
    for (const index of ['audit_events_type', 'audit_events_actor', 'audit_events_account_type']) {
      await db.query(`DROP INDEX IF EXISTS ${index}`);
    }
  }
}
