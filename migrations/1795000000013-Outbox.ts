import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The durable outbox: email, SMS and account jobs written in the same transaction as the change
 * that caused them, delivered by src/outbox/outbox-worker.ts (at least once, with backoff).
 */
export class Outbox1795000000013 implements MigrationInterface {
  name = 'Outbox1795000000013';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE outbox_messages (
        id              uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
        kind            text        NOT NULL,
        payload         jsonb       NOT NULL,
        status          text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'dead')),
        attempts        integer     NOT NULL DEFAULT 0,
        next_attempt_at timestamptz NOT NULL DEFAULT now(),
        last_error      text,
        account_id      uuid,
        -- When the current round of attempts began (insert, or an operator's retry): max age counts from it.
        queued_at       timestamptz NOT NULL DEFAULT now(),
        created_at      timestamptz NOT NULL DEFAULT now(),
        updated_at      timestamptz NOT NULL DEFAULT now(),
        delivered_at    timestamptz
      )`);
    // What the worker claims: only pending rows, soonest first; delivered ones never enter it.
    await db.query(`CREATE INDEX outbox_messages_due ON outbox_messages (next_attempt_at) WHERE status = 'pending'`);
    // `outbox list --status dead` and `retry --dead`.
    await db.query(`CREATE INDEX outbox_messages_status ON outbox_messages (status, created_at)`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE IF EXISTS outbox_messages`);
  }
}
