import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { eventContent, GENESIS_PREV_HASH, hashEvent, REDACTED } from '../../src/audit/audit-chain.js';
import { AuditEventEntity } from '../../src/audit/audit-event.entity.js';
import { auditRepositoryFor } from '../../src/audit/audit-repository.js';
import { AuditEventType, createAuditService } from '../../src/audit/audit-service.js';
import { openDataSource, type DataSource } from '../../src/infra/data-source.js';
import { createTestDatabase } from '../helpers/test-database.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function connect(url: string, poolSize = 4): Promise<DataSource> {
  const dataSource = await openDataSource({ url, poolSize, entities: [AuditEventEntity], migrations: [] });
  cleanups.push(() => dataSource.destroy());
  return dataSource;
}

/** A fresh database per test, so tampering in one test cannot break another's chain. */
async function setup() {
  const { url } = await createTestDatabase();
  const dataSource = await connect(url);
  // A small batch size makes verify and export cross several batch boundaries.
  const audit = createAuditService({ repositoryFor: auditRepositoryFor(dataSource.manager), batchSize: 3 });
  const superuser = new pg.Client({ connectionString: url });
  await superuser.connect();
  cleanups.push(() => superuser.end());
  return { url, dataSource, audit, superuser };
}

async function recordMany(audit: Awaited<ReturnType<typeof setup>>['audit'], count: number, prefix = 'e') {
  const events = [];
  for (let i = 0; i < count; i += 1) {
    events.push(await audit.record({ type: AuditEventType.clientUpdated, actor: 'cli', clientId: `${prefix}${i}`, details: { n: i } }));
  }
  return events;
}

/** Runs `sql` with the append-only triggers off, the way a superuser could tamper with the table. */
async function tamper(superuser: pg.Client, sql: string, params: unknown[]) {
  await superuser.query('BEGIN');
  await superuser.query(`SET LOCAL session_replication_role = replica`);
  await superuser.query(sql, params);
  await superuser.query('COMMIT');
}

describe('audit chain', () => {
  it('appends a linked chain that verifies', async () => {
    const { audit, superuser } = await setup();
    const accountId = '6f1c2b1e-8a4d-4a51-9c1e-2f7d9a0b3c4d';
    const first = await audit.record({
      type: AuditEventType.loginSucceeded, actor: `account:${accountId}`, accountId, clientId: 'web',
      ip: '203.0.113.9', userAgent: 'Mozilla/5.0', details: { amr: ['pwd'], nested: { b: 2, a: 1 } },
    });
    await recordMany(audit, 6);

    const { rows } = await superuser.query(`SELECT id::text, prev_hash, hash, occurred_at FROM audit_events ORDER BY id`);
    expect(rows).toHaveLength(7);
    expect(rows[0].prev_hash).toBe(GENESIS_PREV_HASH);
    for (let i = 1; i < rows.length; i += 1) {
      expect(rows[i].prev_hash).toBe(rows[i - 1].hash);
      expect(rows[i].occurred_at.getTime()).toBeGreaterThanOrEqual(rows[i - 1].occurred_at.getTime());
    }
    expect(first).toMatchObject({ id: rows[0].id, accountId, clientId: 'web', details: { amr: ['pwd'], nested: { a: 1, b: 2 } } });
    expect(first.hash).toBe(hashEvent(GENESIS_PREV_HASH, eventContent(first)));
    expect(await audit.verify()).toEqual({ ok: true, count: 7 });
  });

  it('verifies an empty chain', async () => {
    const { audit } = await setup();
    expect(await audit.verify()).toEqual({ ok: true, count: 0 });
  });

  it('keeps one unbroken chain under 20 concurrent appends from separate processes', async () => {
    const { url, audit, superuser } = await setup();
    // Four pools stand in for four service instances; every append runs in its own transaction.
    const pools = await Promise.all([1, 2, 3, 4].map(() => connect(url, 5)));
    await Promise.all(Array.from({ length: 20 }, (_, i) => {
      const dataSource = pools[i % pools.length];
      const service = createAuditService({ repositoryFor: auditRepositoryFor(dataSource.manager) });
      const event = { type: AuditEventType.loginFailed, actor: `client:c${i}`, details: { i } };
      // Half inside a caller's transaction, half letting the repository open its own.
      return i % 2 === 0 ? dataSource.transaction((manager) => service.record(event, manager)) : service.record(event);
    }));
    expect(await audit.verify()).toEqual({ ok: true, count: 20 });
    const { rows } = await superuser.query(`SELECT count(DISTINCT prev_hash)::int AS links FROM audit_events`);
    expect(rows[0].links).toBe(20);
  });

  it('is refused UPDATE, DELETE and TRUNCATE by the database', async () => {
    const { audit, superuser } = await setup();
    await recordMany(audit, 2);
    for (const sql of [
      `UPDATE audit_events SET details = '{"x":1}'`,
      `DELETE FROM audit_events WHERE id = 1`,
      `TRUNCATE audit_events`,
    ]) {
      await expect(superuser.query(sql)).rejects.toMatchObject({ code: '42501', message: expect.stringMatching(/append-only/) });
    }
    expect(await audit.verify()).toEqual({ ok: true, count: 2 });
  });

  it('names exactly the row whose content was changed', async () => {
    const { audit, superuser } = await setup();
    const events = await recordMany(audit, 7);
    await tamper(superuser, `UPDATE audit_events SET details = '{"n": 99}' WHERE id = $1`, [events[4].id]);
    expect(await audit.verify()).toEqual({ ok: false, count: 4, brokenId: events[4].id, reason: 'hash_mismatch' });
  });

  it('names the row after a deleted one', async () => {
    const { audit, superuser } = await setup();
    const events = await recordMany(audit, 7);
    await tamper(superuser, `DELETE FROM audit_events WHERE id = $1`, [events[3].id]);
    expect(await audit.verify()).toEqual({ ok: false, count: 3, brokenId: events[4].id, reason: 'prev_hash_mismatch' });
  });

  it('names the new first row when the first row is deleted', async () => {
    const { audit, superuser } = await setup();
    const events = await recordMany(audit, 3);
    await tamper(superuser, `DELETE FROM audit_events WHERE id = $1`, [events[0].id]);
    expect(await audit.verify()).toMatchObject({ ok: false, count: 0, brokenId: events[1].id, reason: 'prev_hash_mismatch' });
  });

  it('exports only events since a time, as JSON lines that re-verify', async () => {
    const { audit } = await setup();
    const early = await recordMany(audit, 2, 'early');
    await sleep(15);
    const since = new Date(early[1].occurredAt.getTime() + 1);
    const late = await recordMany(audit, 5, 'late');

    const lines: string[] = [];
    const count = await audit.exportSince(since, async (line) => { lines.push(line); });
    expect(count).toBe(5);
    const parsed = lines.map((line) => JSON.parse(line));
    expect(parsed.map((event) => event.id)).toEqual(late.map((event) => event.id));
    expect(parsed[0]).toMatchObject({ type: 'client.updated', clientId: 'late0', prevHash: early[1].hash, hash: late[0].hash });
    for (const event of parsed) {
      expect(hashEvent(event.prevHash, eventContent({ ...event, occurredAt: new Date(event.occurredAt) }))).toBe(event.hash);
    }
    expect(await audit.exportSince(new Date(Date.now() + 60_000), () => {})).toBe(0);
  });

  it('never writes a secret found in details', async () => {
    const { audit, superuser } = await setup();
    await audit.record({
      type: AuditEventType.clientSecretRotated, actor: 'cli', clientId: 'app',
      details: { clientSecret: 'SECRET-ONE', request: { headers: { authorization: 'Basic U0VDUkVU', cookie: 'sid=SECRET-TWO' } } },
    });
    const { rows } = await superuser.query(`SELECT details, details::text AS text FROM audit_events`);
    expect(rows[0].text).not.toMatch(/SECRET-ONE|SECRET-TWO|U0VDUkVU/);
    expect(rows[0].details).toEqual({ clientSecret: REDACTED, request: { headers: { authorization: REDACTED, cookie: REDACTED } } });
    expect(await audit.verify()).toEqual({ ok: true, count: 1 });
  });

  it('records inside the caller transaction: a rollback leaves no row, a commit keeps the chain', async () => {
    const { dataSource, audit, superuser } = await setup();
    await recordMany(audit, 1);
    await expect(dataSource.transaction(async (manager) => {
      await audit.record({ type: AuditEventType.accountDisabled, actor: 'cli' }, manager);
      throw new Error('the change being audited failed');
    })).rejects.toThrow('the change being audited failed');
    expect((await superuser.query(`SELECT count(*)::int AS n FROM audit_events`)).rows[0].n).toBe(1);

    const kept = await dataSource.transaction((manager) => audit.record({ type: AuditEventType.accountEnabled, actor: 'cli' }, manager));
    expect((await superuser.query(`SELECT id::text FROM audit_events ORDER BY id`)).rows.map((r) => r.id)).toContain(kept.id);
    expect(await audit.verify()).toEqual({ ok: true, count: 2 });
  });

  it('refuses to append under REPEATABLE READ, where a stale snapshot could fork the chain', async () => {
    const { dataSource, audit } = await setup();
    await expect(dataSource.transaction('REPEATABLE READ', (manager) => audit.record({ type: 'x' }, manager)))
      .rejects.toMatchObject({ code: 'audit_isolation_unsupported' });
  });

  it('lists an account\'s events newest first, paged by id', async () => {
    const { audit } = await setup();
    const accountId = '0b7e1c9a-1d2e-4f3a-8b4c-5d6e7f8a9b0c';
    const mine = [];
    for (let i = 0; i < 5; i += 1) {
      mine.push(await audit.record({ type: AuditEventType.loginSucceeded, accountId: accountId.toUpperCase(), details: { i } }));
      await audit.record({ type: AuditEventType.loginFailed, accountId: '11111111-2222-4333-8444-555555555555' });
    }
    const page1 = await audit.listForAccount(accountId, { limit: 3 });
    expect(page1.map((event) => event.id)).toEqual([mine[4].id, mine[3].id, mine[2].id]);
    const page2 = await audit.listForAccount(accountId, { limit: 3, beforeId: page1[2].id });
    expect(page2.map((event) => event.id)).toEqual([mine[1].id, mine[0].id]);
    expect(page2[0].accountId).toBe(accountId);
  });
});
