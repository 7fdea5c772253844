import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { excessAuditPrivileges } from '../../src/audit/audit-privileges.js';
import {
  CHECKPOINT_TYP,
  checkpointDigest,
  createCheckpointSigner,
  generateCheckpointKey,
} from '../../src/audit/checkpoint-signer.js';
import { createContainer } from '../../src/container.js';
import { createLogger } from '../../src/infra/logger.js';
import { createServer } from '../../src/server.js';
import { BrowserAgent } from '../helpers/browser-agent.js';
import { createAccount, signInToAccount } from '../helpers/accounts-fixtures.js';
import { cliRunner } from '../helpers/cli-runner.js';
import { createRuntimeRole } from '../helpers/runtime-role.js';
import { createTestDatabase, testRedis } from '../helpers/test-database.js';
import { startTestServer, testEnvironment, type TestServer } from '../helpers/test-server.js';

let key: string;
let otherKey: string;
beforeAll(async () => {
  key = (await generateCheckpointKey()).privateKeyPem;
  otherKey = (await generateCheckpointKey()).privateKeyPem;
});

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

interface Problem {
  checkpointId: string;
  problem: string;
  lastEventId: string;
  chainEndsAt?: string;
  expectedCount?: number;
  foundCount?: number;
}
interface TrailJson {
  ok: boolean;
  count: number;
  brokenId?: string;
  checkpoints?: { total: number; uncoveredEvents: number; problems: Problem[] };
}

/** One deployment as the README describes it: migrations as the owner, the service as a member of portcullis_app. */
async function deployment() {
  const database = await createTestDatabase();
  const role = await createRuntimeRole(database.url);
  cleanups.push(() => role.drop());
  const redis = testRedis();
  const env: Record<string, string> = {
    NODE_ENV: 'test',
    DATABASE_URL: role.url,
    DATABASE_MIGRATION_URL: database.url,
    DATA_DIR: `/tmp/portcullis-test-data-${process.pid}`,
    PORTCULLIS_COOKIE_KEYS: randomBytes(32).toString('base64url'),
    PORTCULLIS_ENCRYPTION_KEY: randomBytes(32).toString('base64url'),
    PORTCULLIS_AUDIT_CHECKPOINT_KEY: key,
    ...(redis ? { REDIS_URL: redis.url, REDIS_KEY_PREFIX: redis.keyPrefix } : {}),
  };
  const connect = async (url: string) => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    cleanups.push(() => client.end());
    return client;
  };
  const owner = await connect(database.url);
  const runtime = await connect(role.url);
  const { cli, cliJson } = cliRunner(() => env);
  const createUsers = async (count: number) => {
    for (let i = 0; i < count; i += 1) {
      await cliJson(
        ['users', 'create', '--email', `u${randomBytes(4).toString('hex')}@example.test`, '--password-stdin'],
        { stdin: `Quiet ${randomBytes(9).toString('base64url')} harbour\n` },
      );
    }
  };
  const head = async () =>
    (await owner.query<{ id: string }>('SELECT max(id)::text AS id FROM audit_events')).rows[0]!.id;
  return { env, owner, runtime, role, cli, cliJson, createUsers, head };
}

/** What a table owner can do: switch the append-only triggers off and delete rows. */
async function ownerDeletes(owner: pg.Client, sql: string, params: unknown[] = []) {
  await owner.query('BEGIN');
  await owner.query('ALTER TABLE audit_events DISABLE TRIGGER USER');
  await owner.query(sql, params);
  await owner.query('ALTER TABLE audit_events ENABLE TRIGGER USER');
  await owner.query('COMMIT');
}

describe('the runtime role', () => {
  it('cannot change, delete, truncate or untrigger audit rows, but does everything else', async () => {
    const d = await deployment();
    await d.createUsers(1);
    for (const sql of [
      `UPDATE audit_events SET type = 'x'`, 'DELETE FROM audit_events', 'TRUNCATE audit_events',
      'ALTER TABLE audit_events DISABLE TRIGGER USER', 'SET session_replication_role = replica',
      `UPDATE audit_checkpoints SET jws = 'x'`, 'DELETE FROM audit_checkpoints', 'TRUNCATE audit_checkpoints',
      `INSERT INTO schema_migrations (timestamp, name) VALUES (1, 'x')`,
    ]) {
      await expect(d.runtime.query(sql), sql).rejects.toMatchObject({
        code: '42501',
        message: expect.stringMatching(/permission denied|must be owner/),
      });
    }
    // Ordinary tables stay writable, and the audit table readable.
    await d.runtime.query(`UPDATE accounts SET name = 'renamed'`);
    const { rows } = await d.runtime.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_events');
    expect(rows[0]!.n).toBeGreaterThan(0);
  });

  it('runs the service end to end: sign-in is audited and periodic checkpoints are written', async () => {
    const d = await deployment();
    const t = await startTestServer(
      { captcha: { provider: 'none' }, audit: { checkpoint: { intervalSeconds: 1 } } },
      { shareWith: { env: d.env } as TestServer },
    );
    cleanups.push(() => t.close());
    expect(excessAuditPrivileges(await t.container.auditTrail.privileges())).toEqual([]);
    const account = await createAccount(t);
    const page = await signInToAccount(new BrowserAgent(), t.issuer, account);
    expect(page.status).toBe(200);
    const { rows } = await d.owner.query(`SELECT type FROM audit_events WHERE account_id = $1 ORDER BY id`, [
      account.id,
    ]);
    expect(rows.map((row) => row.type)).toContain('login.succeeded');
    const head = await d.head();
    // The writer runs every second: wait (bounded) until a checkpoint covers the sign-in.
    let covered: { id: string; event_count: string } | undefined;
    for (let attempt = 0; attempt < 100 && !covered; attempt += 1) {
      const found = await d.owner.query(
        `SELECT id::text, event_count::text FROM audit_checkpoints WHERE last_event_id >= $1 ORDER BY id LIMIT 1`,
        [head],
      );
      covered = found.rows[0];
      if (!covered) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(covered, 'a periodic checkpoint within 10 s').toBeDefined();
    const verify = await d.cliJson<TrailJson>(['audit', 'verify']);
    expect(verify).toMatchObject({ ok: true, checkpoints: { problems: [] } });
    expect(verify.checkpoints!.total).toBeGreaterThan(0);
  });
});

describe('checkpoints', () => {
  it('report the newest events an owner deleted once a checkpoint covers them, naming the ids', async () => {
    const d = await deployment();
    await d.createUsers(3);
    const checkpoint = await d.cliJson<{ id: string; last_event_id: string; count: number; jws: string }>([
      'audit',
      'checkpoint',
    ]);
    expect(checkpoint.last_event_id).toBe(await d.head());
    expect(checkpoint.jws.split('.')).toHaveLength(3);
    const { rows } = await d.owner.query<{ id: string }>('SELECT id::text FROM audit_events ORDER BY id DESC LIMIT 3');
    const [newest, , survivor] = rows.map((row) => row.id);

    await ownerDeletes(d.owner, 'DELETE FROM audit_events WHERE id > $1', [survivor]);
    // The chain itself is still intact: only the checkpoint can tell.
    const result = await d.cli(['audit', 'verify']);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain(
      `audit trail truncated: checkpoint ${checkpoint.id} covers events through ${newest} (${checkpoint.count} events)`,
    );
    expect(result.stdout).toContain(
      `but the chain ends at event ${survivor} (${checkpoint.count - 2} events): ` +
        `events after ${survivor} through ${newest} were deleted (2 missing)`,
    );
    const json = await d.cli(['audit', 'verify', '--json']);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({
      ok: false,
      count: checkpoint.count - 2,
      checkpoints: {
        problems: [
          {
            checkpointId: checkpoint.id,
            problem: 'truncated',
            lastEventId: newest,
            chainEndsAt: survivor,
            expectedCount: checkpoint.count,
            foundCount: checkpoint.count - 2,
          },
        ],
      },
    });
    // No new checkpoint is signed over a truncated chain.
    const refused = await d.cli(['audit', 'checkpoint']);
    expect(refused).toMatchObject({ code: 1, stderr: expect.stringMatching(/does not verify/) });
  });

  it('cannot see deletions after the newest checkpoint, and says how many events that window holds', async () => {
    const d = await deployment();
    await d.createUsers(1);
    await d.cliJson(['audit', 'checkpoint']);
    await d.createUsers(2);
    expect(await d.cliJson<TrailJson>(['audit', 'verify'])).toMatchObject({
      ok: true,
      checkpoints: { uncoveredEvents: 2, problems: [] },
    });
    const human = await d.cli(['audit', 'verify']);
    expect(human.stdout).toMatch(/2 newer events are not covered yet/);
  });

  it('reports a checkpoint signed with another key', async () => {
    const d = await deployment();
    await d.createUsers(1);
    const genuine = await d.cliJson<{ id: string; jws: string }>(['audit', 'checkpoint']);
    const head = (
      await d.owner.query<{ id: string; hash: string }>(
        'SELECT id::text, hash FROM audit_events ORDER BY id DESC LIMIT 1',
      )
    ).rows[0]!;
    const forger = await createCheckpointSigner(otherKey);
    const count = (await d.owner.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_events')).rows[0]!.n;
    const jws = await forger.sign({
      typ: CHECKPOINT_TYP,
      lastEventId: head.id,
      lastHash: head.hash,
      count,
      createdAt: new Date().toISOString(),
      prev: checkpointDigest(genuine.jws),
    });
    const forged = await d.owner.query<{ id: string }>(
      `INSERT INTO audit_checkpoints (last_event_id, last_hash, event_count, kid, jws) VALUES ($1, $2, $3, $4, $5) ` +
      `RETURNING id::text`,
      [head.id, head.hash, count, forger.kid, jws],
    );
    const result = await d.cli(['audit', 'verify']);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain(
      `checkpoint ${forged.rows[0]!.id} (through event ${head.id}) is not signed by the configured key`,
    );
  });

  it('exports the events after a checkpoint with its JWS, and the copy verifies elsewhere', async () => {
    const d = await deployment();
    await d.createUsers(1);
    const checkpoint = await d.cliJson<{ id: string; jws: string }>(['audit', 'checkpoint']);
    await d.createUsers(2);
    const exported = await d.cli(['audit', 'export', '--since-checkpoint']);
    expect(exported.code).toBe(0);
    const lines = exported.stdout.split('\n');
    expect(JSON.parse(lines[0]!)).toMatchObject({ checkpoint: { id: checkpoint.id, jws: checkpoint.jws } });
    expect(lines.slice(1).map((line) => JSON.parse(line).type)).toEqual(['account.created', 'account.created']);

    expect(await d.cliJson(['audit', 'verify-export'], { stdin: exported.stdout })).toMatchObject({
      ok: true,
      checkpointId: checkpoint.id,
      events: 2,
    });
    const changed = [lines[0], lines[1]!.replace('"account.created"', '"account.deleted"'), lines[2]].join('\n');
    expect(await d.cli(['audit', 'verify-export'], { stdin: changed })).toMatchObject({
      code: 1,
      stdout: expect.stringMatching(/line 2: event \d+ was changed/),
    });
    const dropped = [lines[0], lines[2]].join('\n');
    expect(await d.cli(['audit', 'verify-export'], { stdin: dropped })).toMatchObject({
      code: 1,
      stdout: expect.stringMatching(/prev_hash_mismatch/),
    });
    const otherKeyRun = await d.cli(['audit', 'verify-export'], {
      stdin: exported.stdout,
      env: { PORTCULLIS_AUDIT_CHECKPOINT_KEY: otherKey },
    });
    expect(otherKeyRun).toMatchObject({
      code: 1,
      stdout: 'export broken at line 1: the checkpoint is not signed by the configured key',
    });
    // An earlier checkpoint by id; an unknown one is refused.
    const byId = await d.cli(['audit', 'export', '--since-checkpoint', '--checkpoint', checkpoint.id]);
    expect(byId.stdout).toBe(exported.stdout);
    expect(await d.cli(['audit', 'export', '--since-checkpoint', '--checkpoint', '999999'])).toMatchObject({
      code: 1,
      stderr: 'portcullis: no audit checkpoint 999999',
    });
  });

  it('prints a new key that the config accepts, and refuses one that is not Ed25519', async () => {
    const d = await deployment();
    const generated = await d.cli(['audit', 'checkpoint-key']);
    expect(generated.stdout).toMatch(/^-----BEGIN PRIVATE KEY-----\n[\s\S]+\n-----END PRIVATE KEY-----$/);
    await d.createUsers(1);
    const withNew = await d.cliJson<{ kid: string }>(['audit', 'checkpoint'], {
      env: { PORTCULLIS_AUDIT_CHECKPOINT_KEY: generated.stdout },
    });
    expect(withNew.kid).toBe((await createCheckpointSigner(generated.stdout)).kid);
    const jwk = await d.cli(['audit', 'checkpoint-key', '--jwk']);
    expect(JSON.parse(jwk.stdout)).toMatchObject({ kty: 'OKP', crv: 'Ed25519', d: expect.any(String) });
    expect(
      await d.cliJson(['audit', 'checkpoint'], { env: { PORTCULLIS_AUDIT_CHECKPOINT_KEY: jwk.stdout } }),
    ).toMatchObject({ count: expect.any(Number) });
    const bad = await d.cli(['audit', 'checkpoint'], { env: { PORTCULLIS_AUDIT_CHECKPOINT_KEY: 'not a key' } });
    expect(bad).toMatchObject({
      code: 1,
      stderr: 'portcullis: audit.checkpoint.key: not an Ed25519 private key (PKCS#8 PEM or a JWK with "d")',
    });
  });
});

describe('production start', () => {
  it('refuses a role that could rewrite the audit trail', async () => {
    const environment = await testEnvironment();
    const container = await createContainer(environment.config, createLogger('silent'), {
      migrate: false,
      redis: false,
    });
    cleanups.push(() => container.close());
    await expect(
      createServer({ ...container, config: { ...container.config, nodeEnv: 'production' } }),
    ).rejects.toThrow(
      /the database role can rewrite the audit trail \(audit_checkpoints: role postgres is a superuser, may UPDATE, may DELETE, may TRUNCATE; audit_events: /,
    );
  });
});
