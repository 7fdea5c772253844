import { expect, it } from 'vitest';
import { cliFixture } from '../helpers/cli-fixture.js';

const t = cliFixture();
const { cli, cliJson } = t;

it('inserts verified accounts sharing one password hash, and skips existing emails on a rerun', async () => {
  const first = await cliJson<{ accounts_inserted: number; accounts_skipped: number; accounts_per_second: number; password?: string }>(
    ['seed', '--accounts', '300', '--password', 'seeded passphrase for load tests', '--domain', 'load.test']);
  expect(first).toMatchObject({ accounts_inserted: 300, accounts_skipped: 0 });
  expect(first.password, 'a password given is not echoed').toBeUndefined();
  const { rows } = await t.sql.query<{ n: number; hashes: number; unverified: number }>(
    `SELECT count(*)::int AS n, count(DISTINCT password_hash)::int AS hashes, count(*) FILTER (WHERE NOT email_verified)::int AS unverified
       FROM accounts WHERE email LIKE '%@load.test'`);
  expect(rows[0]).toEqual({ n: 300, hashes: 1, unverified: 0 });
  const account = await t.container.db.repos.accounts.findByEmail('user300@load.test');
  expect(await t.container.hasher.verify(account!.passwordHash, 'seeded passphrase for load tests')).toBe(true);

  const again = await cliJson(['seed', '--accounts', '350', '--domain', 'load.test']);
  expect(again).toMatchObject({ accounts_inserted: 50, accounts_skipped: 300, password: expect.any(String) });
});

it('appends synthetic audit events that keep the hash chain verifiable, interleaved with live events', async () => {
  await cliJson(['seed', '--accounts', '20', '--domain', 'audit.test']);
  const seeded = await cliJson<{ audit_events_inserted: number }>(['seed', '--audit-events', '25000', '--domain', 'audit.test']);
  expect(seeded.audit_events_inserted).toBe(25_000);
  await t.container.audit.record({ type: 'client.created', actor: 'cli', clientId: 'live' });
  await cliJson(['seed', '--audit-events', '15000', '--domain', 'audit.test']);

  const verify = await cliJson<{ ok: boolean; count: number }>(['audit', 'verify']);
  expect(verify.ok).toBe(true);
  const { rows } = await t.sql.query<{ n: number; accounts: number; backwards: number }>(
    `SELECT count(*)::int AS n, count(DISTINCT account_id)::int AS accounts,
            count(*) FILTER (WHERE occurred_at < previous)::int AS backwards
       FROM (SELECT account_id, occurred_at, lag(occurred_at) OVER (ORDER BY id) AS previous FROM audit_events WHERE user_agent = 'portcullis-seed') AS seeded`);
  expect(rows[0]).toEqual({ n: 40_000, accounts: 20, backwards: 0 });
  expect(verify.count).toBeGreaterThan(40_000);
});

it('refuses bad input with exit code 2', async () => {
  expect(await cli(['seed'])).toMatchObject({ code: 2, stderr: expect.stringContaining('nothing to seed') });
  expect(await cli(['seed', '--accounts', 'many'])).toMatchObject({ code: 2, stderr: expect.stringContaining('--accounts must be a whole number') });
  expect(await cli(['seed', '--accounts', '1', '--domain', 'not a domain'])).toMatchObject({ code: 2, stderr: expect.stringContaining('--domain') });
  expect(await cli(['seed', '--audit-events', '5', '--domain', 'nobody.test'])).toMatchObject({ code: 2, stderr: expect.stringContaining('seed --accounts first') });
});
