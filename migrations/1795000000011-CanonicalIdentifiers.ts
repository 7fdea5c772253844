import type { MigrationInterface, QueryRunner } from 'typeorm';
import { canonicalEmail } from '../src/identifiers/canonical-email.js';

/** Rows read and written per round trip: ~100 round trips for a million accounts. */
const BATCH = 10_000;
/** Problems listed in the error; the counts cover all of them. */
const SHOWN = 50;

interface Refused { id: string; email: string; reason: string }
interface Collision { key: string; ids: string[]; emails: string[] }

/**
 * One canonical form per email (src/identifiers/canonical-email.ts): adds accounts.email_canonical,
 * backfills it in batches with the same function the service uses (PostgreSQL's lower() folds some
 * characters differently from JavaScript, which is why the old lower(email) index goes), then makes
 * it NOT NULL and unique. If two existing accounts share a canonical form, or an address has none,
 * it stops — naming the accounts — and the transaction leaves the database as it was.
 *
 * Idempotent: every step checks what is there, so a run after fixing the rows simply completes.
 * A later change to the canonical rule needs its own migration that recomputes the column.
 */
export class CanonicalIdentifiers1795000000011 implements MigrationInterface {
  name = 'CanonicalIdentifiers1795000000011';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE accounts ADD COLUMN IF NOT EXISTS email_canonical text`);
    const refused = await backfill(db);
    const collisions: Collision[] = await db.query(
      `SELECT email_canonical AS key, array_agg(id::text ORDER BY created_at, id) AS ids,
              array_agg(email ORDER BY created_at, id) AS emails
         FROM accounts WHERE email_canonical IS NOT NULL
        GROUP BY email_canonical HAVING count(*) > 1 ORDER BY email_canonical`);
    if (refused.length || collisions.length) throw new Error(report(refused, collisions));
    await db.query(`ALTER TABLE accounts ALTER COLUMN email_canonical SET NOT NULL`);
    await db.query(`CREATE UNIQUE INDEX IF NOT EXISTS accounts_email_canonical_key ON accounts (email_canonical)`);
    await db.query(`DROP INDEX IF EXISTS accounts_email_key`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`CREATE UNIQUE INDEX IF NOT EXISTS accounts_email_key ON accounts (lower(email))`);
    await db.query(`DROP INDEX IF EXISTS accounts_email_canonical_key`);
    await db.query(`ALTER TABLE accounts DROP COLUMN IF EXISTS email_canonical`);
  }
}

/** Writes every account's canonical form (keyset pages on the primary key); returns the addresses refused. */
async function backfill(db: QueryRunner): Promise<Refused[]> {
  const refused: Refused[] = [];
  // From the smallest UUID, so every page is one range scan on the primary key
  // (an `$1 IS NULL OR id > $1` would sort the whole table for each page).
  let after = '00000000-0000-0000-0000-000000000000';
  for (;;) {
    const rows: Array<{ id: string; email: string }> = await db.query(
      `SELECT id, email FROM accounts WHERE id > $1::uuid ORDER BY id LIMIT $2`, [after, BATCH]);
    if (!rows.length) return refused;
    const ids: string[] = [];
    const keys: string[] = [];
    for (const row of rows) {
      const result = canonicalEmail(row.email);
      if (result.ok) {
        ids.push(row.id);
        keys.push(result.canonical);
      } else {
        refused.push({ id: row.id, email: row.email, reason: `${result.code}: ${result.reason}` });
      }
    }
    // IS DISTINCT FROM: a rerun rewrites nothing that is already right.
    await db.query(
      `UPDATE accounts a SET email_canonical = v.key FROM unnest($1::uuid[], $2::text[]) AS v(id, key)
        WHERE a.id = v.id AND a.email_canonical IS DISTINCT FROM v.key`, [ids, keys]);
    after = rows.at(-1)!.id;
  }
}

function report(refused: Refused[], collisions: Collision[]): string {
  const lines = [
    'migration CanonicalIdentifiers1795000000011 stopped; nothing was changed.',
    `${collisions.length} canonical email(s) are shared by more than one account, and ${refused.length} account(s)`
    + ' have an address with no canonical form (README "Accounts: one canonical email").',
  ];
  for (const c of collisions.slice(0, SHOWN)) {
    const holders = c.ids.map((id, i) => `${id} ${JSON.stringify(c.emails[i])}`).join(', ');
    lines.push(`  collision on ${JSON.stringify(c.key)}: ${holders}`);
  }
  for (const r of refused.slice(0, SHOWN)) lines.push(`  refused ${r.id} ${JSON.stringify(r.email)}: ${r.reason}`);
  if (collisions.length > SHOWN || refused.length > SHOWN) lines.push(`  (only the first ${SHOWN} of each are listed)`);
  lines.push(
    'What to do: for each collision decide which account is the person\'s and remove the others'
    + ' (`npx portcullis users delete <id>`) or give them another address'
    + ' (UPDATE accounts SET email = \'<new address>\' WHERE id = \'<id>\'); give each refused account an address'
    + ' without invisible or ambiguous characters the same way. Then run `npx portcullis migrate` again.',
  );
  return lines.join('\n');
}
