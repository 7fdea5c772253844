import type { DataSource } from 'typeorm';

/** One oidc-provider model instance as the table stores it. */
export interface OidcModelRecord {
  model: string;
  id: string;
  payload: Record<string, unknown>;
  grantId: string | null;
  uid: string | null;
  userCode: string | null;
  expiresAt: Date | null;
  consumedAt: Date | null;
}

/** What a lookup returns: the payload as saved, plus when (if ever) it was consumed. */
export interface StoredOidcModel {
  payload: Record<string, unknown>;
  consumedAt: Date | null;
}

export type ConsumeOutcome = 'consumed' | 'already_consumed' | 'not_found';

interface StoredRow { payload: Record<string, unknown>; consumed_at: Date | null }

// A row counts as live until its expires_at; callers pass "now" so tests can move the clock.
const LIVE = `(expires_at IS NULL OR expires_at > $3)`;

/**
 * The TypeORM postgres driver answers UPDATE/DELETE through `dataSource.query` with
 * `[rows, rowCount]` but every other statement with just the rows; this reads either.
 */
function affectedRows(result: unknown): number {
  if (Array.isArray(result) && result.length === 2 && Array.isArray(result[0]) && typeof result[1] === 'number') {
    return result[1];
  }
  return Array.isArray(result) ? result.length : 0;
}

function toStored(rows: StoredRow[]): StoredOidcModel | undefined {
  const row = rows[0];
  return row ? { payload: row.payload, consumedAt: row.consumed_at } : undefined;
}

/** Parameterised SQL over `oidc_model_instances`, the one table for all durable oidc-provider models. */
export function createOidcModelRepository(dataSource: DataSource) {
  const select = async (where: string, params: unknown[]) =>
    toStored(await dataSource.query(
      `SELECT payload, consumed_at FROM oidc_model_instances WHERE model = $1 AND ${where} AND ${LIVE} LIMIT 1`, params));

  return {
    /** Inserts or wholly replaces one instance (replace, like oidc-provider's memory adapter). */
    async upsert(record: OidcModelRecord): Promise<void> {
      await dataSource.query(
        `INSERT INTO oidc_model_instances (model, id, payload, grant_id, uid, user_code, expires_at, consumed_at, account_id)
         VALUES ($1, $2, $3::jsonb, $4, $5, $6, $7, $8, $3::jsonb->>'accountId')
         ON CONFLICT (model, id) DO UPDATE SET
           payload = EXCLUDED.payload, grant_id = EXCLUDED.grant_id, uid = EXCLUDED.uid,
           user_code = EXCLUDED.user_code, expires_at = EXCLUDED.expires_at, consumed_at = EXCLUDED.consumed_at,
           account_id = EXCLUDED.account_id`,
        [record.model, record.id, JSON.stringify(record.payload), record.grantId, record.uid,
          record.userCode, record.expiresAt, record.consumedAt]);
    },

    /** The live instance with this id, or undefined. */
    find: (model: string, id: string, now: Date) => select('id = $2', [model, id, now]),

    /** The live instance with this uid (Session), or undefined. */
    findByUid: (model: string, uid: string, now: Date) => select('uid = $2', [model, uid, now]),

    /** The live instance with this user code (DeviceCode), or undefined. */
    findByUserCode: (model: string, userCode: string, now: Date) => select('user_code = $2', [model, userCode, now]),

    /**
     * Marks a live instance consumed only if nobody has yet: the conditional UPDATE takes the row
     * lock, so of N concurrent callers exactly one sees a row updated.
     */
    async consume(model: string, id: string, now: Date): Promise<ConsumeOutcome> {
      const result = await dataSource.query(
        `UPDATE oidc_model_instances SET consumed_at = $3
         WHERE model = $1 AND id = $2 AND consumed_at IS NULL AND ${LIVE}`, [model, id, now]);
      if (affectedRows(result) === 1) return 'consumed';
      // Only to choose the error message; the decision above was already atomic.
      return (await select('id = $2', [model, id, now])) ? 'already_consumed' : 'not_found';
    },

    /** Deletes one instance; a missing one is not an error. */
    async destroy(model: string, id: string): Promise<void> {
      await dataSource.query(`DELETE FROM oidc_model_instances WHERE model = $1 AND id = $2`, [model, id]);
    },

    /** Deletes every instance, of any model, indexed under this grant; returns how many. */
    /** Live instances of a model belonging to an account (Session, Grant), via the account_id index. */
    async listForAccount(model: string, accountId: string, now: Date): Promise<Array<{ id: string; payload: Record<string, unknown> }>> {
      return dataSource.query(
        `SELECT id, payload FROM oidc_model_instances
          WHERE account_id = $1 AND model = $2 AND (expires_at IS NULL OR expires_at > $3)`, [accountId, model, now]);
    },

    async revokeByGrantId(grantId: string): Promise<number> {
      return affectedRows(await dataSource.query(`DELETE FROM oidc_model_instances WHERE grant_id = $1`, [grantId]));
    },

    /**
     * Deletes at most `batchSize` rows expired at `now`. SKIP LOCKED lets several instances clean
     * at once without queueing behind each other or a token endpoint consuming a row.
     */
    async deleteExpired(batchSize: number, now: Date = new Date()): Promise<number> {
      return affectedRows(await dataSource.query(
        `DELETE FROM oidc_model_instances WHERE (model, id) IN (
           SELECT model, id FROM oidc_model_instances WHERE expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`,
        [now, batchSize]));
    },
  };
}

export type OidcModelRepository = ReturnType<typeof createOidcModelRepository>;
