/**
 * kill -9 in the middle of sign-ups: every registration the server acknowledged must have both its
 * account row and its outbox message, because they commit in one transaction before the answer.
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { BrowserAgent, type PageResponse } from '../helpers/browser-agent.js';
import { strongPassword, submitForm, uniqueEmail } from '../helpers/accounts-fixtures.js';
import { freePort, killServer, spawnServer } from '../helpers/server-process.js';
import { startSmtpReceiver, type SmtpReceiver } from '../helpers/smtp-receiver.js';
import { createTestDatabase, testRedis } from '../helpers/test-database.js';

let child: ChildProcess;
let smtp: SmtpReceiver;
let sql: pg.Client;
let dataDir: string;
let origin: string;

/** Resolves when the process logs that it listens; rejects if it exits first. */
function listening(process: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let output = '';
    process.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('"msg":"Portcullis is listening"')) resolve();
    });
    process.stderr!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    process.once('exit', (code) => reject(new Error(`server exited with ${code}: ${output}`)));
  });
}

beforeAll(async () => {
  const database = await createTestDatabase();
  const redis = testRedis();
  smtp = await startSmtpReceiver();
  sql = new pg.Client({ connectionString: database.url });
  await sql.connect();
  const port = await freePort();
  origin = `http://localhost:${port}`;
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'portcullis-crash-'));
  // Many sign-ups from one loopback address, and no CAPTCHA to solve.
  const configFile = path.join(dataDir, 'crash.yaml');
  writeFileSync(
    configFile,
    'captcha: { provider: none }\nrateLimits: { registrationPerIp: { points: 100000, durationSeconds: 3600 } }\n',
  );
  child = spawnServer({
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NODE_ENV: 'test',
    LOG_LEVEL: 'info',
    WORKERS: '1',
    PORT: String(port),
    DATABASE_URL: database.url,
    DATA_DIR: dataDir,
    SMTP_URL: smtp.url,
    PORTCULLIS_CONFIG: configFile,
    PORTCULLIS_COOKIE_KEYS: randomBytes(32).toString('base64url'),
    PORTCULLIS_ENCRYPTION_KEY: randomBytes(32).toString('base64url'),
    ...(redis ? { REDIS_URL: redis.url, REDIS_KEY_PREFIX: redis.keyPrefix } : {}),
  });
  await listening(child);
}, 120_000);

afterAll(async () => {
  await killServer(child);
  await sql?.end();
  await smtp?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

it('keeps every acknowledged registration and its outbox message after kill -9', async () => {
  const agent = new BrowserAgent();
  const login = await agent.follow(new URL('/account', origin));
  const page: PageResponse = await agent.request(new URL(`${login.url.pathname}/register`, login.url));
  expect(page.status).toBe(200);

  const acknowledged: string[] = [];
  let killed = false;
  let enough!: () => void;
  const twenty = new Promise<void>((resolve) => { enough = resolve; });
  const exited = once(child, 'exit');
  // Four sign-ups in flight at a time, until the kill cuts them off.
  const stream = async () => {
    while (!killed) {
      const email = uniqueEmail('crash');
      const answer = await submitForm(agent, page, '/register', {
        name: 'Crash Test',
        email,
        password: strongPassword(),
      }).catch(() => undefined);
      if (answer && answer.status === 200 && answer.html.includes('Check your email')) {
        acknowledged.push(email);
        if (acknowledged.length >= 20) enough();
      } else if (answer && !killed && answer.status !== 503) {
        // A 503 under this load (the pool's acquire bound) is an honest "not taken": nothing was acknowledged.
        throw new Error(`sign-up answered ${answer.status}: ${answer.html.slice(0, 200)}`);
      }
    }
  };
  const streams = Array.from({ length: 4 }, stream);
  await Promise.race([twenty, exited, Promise.all(streams)]);
  child.kill('SIGKILL');
  killed = true;
  await exited;
  await Promise.all(streams);

  expect(acknowledged.length).toBeGreaterThanOrEqual(20);
  for (const email of acknowledged) {
    const accounts = await sql.query(`SELECT id FROM accounts WHERE lower(email) = lower($1)`, [email]);
    expect(accounts.rows, email).toHaveLength(1);
    const jobs = await sql.query(
      `SELECT status FROM outbox_messages WHERE kind = 'registration_requested' AND payload->>'email' = $1 AND ` +
      `account_id = $2`,
      [email, accounts.rows[0].id],
    );
    expect(jobs.rows, email).toHaveLength(1);
  }
}, 120_000);
