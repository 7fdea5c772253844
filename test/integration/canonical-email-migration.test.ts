import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CanonicalIdentifiers1795000000011 } from '../../migrations/1795000000011-CanonicalIdentifiers.js';
import { openDataSource, type DataSource } from '../../src/infra/data-source.js';
import { createTestDatabase } from '../helpers/test-database.js';

const migration = new CanonicalIdentifiers1795000000011();
let dataSource: DataSource;

beforeAll(async () => {
  dataSource = await openDataSource({
    url: (await createTestDatabase()).url,
    poolSize: 2,
    entities: [],
    migrations: [],
  });
  // The database as it was before this migration: lower(email) unique, no email_canonical.
  const runner = dataSource.createQueryRunner();
  try { await migration.down(runner); } finally { await runner.release(); }
});
afterAll(() => dataSource?.destroy());

/** Runs `up` in one transaction, as `portcullis migrate` does; rolls back when it throws. */
async function migrate(): Promise<void> {
  const runner = dataSource.createQueryRunner();
  await runner.startTransaction();
  try {
    await migration.up(runner);
    await runner.commitTransaction();
  } catch (error) {
    await runner.rollbackTransaction();
    throw error;
  } finally {
    await runner.release();
  }
}

const insert = async (email: string): Promise<string> =>
  ((await dataSource.query(`INSERT INTO accounts (email) VALUES ($1) RETURNING id`, [email])) as [{ id: string }])[0]
    .id;
const hasColumn = async () =>
  (
    (await dataSource.query(
      `SELECT count(*)::int AS n FROM information_schema.columns WHERE table_name = 'accounts' AND column_name = ` +
      `'email_canonical'`,
    )) as [{ n: number }]
  )[0].n === 1;
const indexes = async () =>
  (
    (await dataSource.query(
      `SELECT indexname FROM pg_indexes WHERE tablename = 'accounts' ORDER BY indexname`,
    )) as Array<{ indexname: string }>
  ).map((row) => row.indexname);

describe('migration 1795000000011: email_canonical', () => {
  let plain: string;
  let fullwidth: string;
  let dotted: string;

  it('stops on colliding and refused addresses, names them, says what to do, and changes nothing', async () => {
    // lower() keeps fullwidth letters apart, so the old index let both of these in: one person, two rows.
    plain = await insert('Alice@Example.com');
    fullwidth = await insert('ａｌｉｃｅ@example.com');
    dotted = await insert('\u0130nci@example.com');
    await insert('bob@example.com');

    const error = await migrate().then(() => undefined, (e: unknown) => e as Error);
    expect(error).toBeInstanceOf(Error);
    expect(error!.message).toContain('1 canonical email(s) are shared by more than one account, and 1 account(s)');
    expect(error!.message).toContain(
      `collision on "alice@example.com": ${plain} "Alice@Example.com", ${fullwidth} "ａｌｉｃｅ@example.com"`,
    );
    expect(error!.message).toContain(`refused ${dotted} "İnci@example.com": email_ambiguous`);
    expect(error!.message).toContain('Then run `npx portcullis migrate` again.');
    expect(await hasColumn()).toBe(false);
    expect(await indexes()).toContain('accounts_email_key');
  });

  it('backfills in batches once the operator fixed the rows, then enforces uniqueness; a rerun is a no-op', async () => {
    await dataSource.query(`DELETE FROM accounts WHERE id = $1`, [fullwidth]);
    await dataSource.query(`UPDATE accounts SET email = 'inci@example.com' WHERE id = $1`, [dotted]);
    // More rows than one batch (10 000), so paging on the primary key is exercised.
    await dataSource.query(
      `INSERT INTO accounts (email) SELECT 'Bulk' || i || '@Example.com' FROM generate_series(1, 12345) AS i`,
    );

    await migrate();
    const rows = await dataSource.query(
      `SELECT id, email, email_canonical FROM accounts WHERE id = ANY($1::uuid[]) ORDER BY email`,
      [[plain, dotted]],
    );
    expect(rows).toEqual([
      { id: plain, email: 'Alice@Example.com', email_canonical: 'alice@example.com' },
      { id: dotted, email: 'inci@example.com', email_canonical: 'inci@example.com' },
    ]);
    const [{ missing, bulk }] = await dataSource.query(
      `SELECT count(*) FILTER (WHERE email_canonical IS NULL)::int AS missing,
              count(*) FILTER (WHERE email_canonical = lower(email) AND email LIKE 'Bulk%')::int AS bulk FROM accounts`) as [{ missing: number; bulk: number }];
    expect({ missing, bulk }).toEqual({ missing: 0, bulk: 12345 });
    expect(await indexes()).toContain('accounts_email_canonical_key');
    expect(await indexes()).not.toContain('accounts_email_key');
    await expect(
      dataSource.query(
        `INSERT INTO accounts (email, email_canonical) VALUES ('ALICE@example.com', 'alice@example.com')`,
      ),
    ).rejects.toMatchObject({ code: '23505' });
    await expect(dataSource.query(`INSERT INTO accounts (email) VALUES ('carol@example.com')`)).rejects.toMatchObject({
      code: '23502',
    });

    await migrate();
    expect(await indexes()).toContain('accounts_email_canonical_key');
  });
});
