import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import bcrypt from 'bcryptjs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runCli } from '../../src/cli/index.js';
import { createContainer, type Container } from '../../src/container.js';
import { createLogger } from '../../src/infra/logger.js';
import { testEnvironment } from '../helpers/test-server.js';

let env: Record<string, string>;
let c: Container;
const dir = mkdtempSync(path.join(os.tmpdir(), 'portcullis-import-'));

beforeAll(async () => {
  const environment = await testEnvironment();
  env = environment.env;
  c = await createContainer(environment.config, createLogger('silent'), { migrate: true, redis: false });
});
afterAll(() => c?.close());

async function cli(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(args, { env, write: (text) => out.push(text), writeError: (text) => err.push(text) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

it('imports bcrypt accounts and upgrades each hash to argon2id at the next sign-in', async () => {
  const file = path.join(dir, 'users.jsonl');
  writeFileSync(file, [
    JSON.stringify({ email: 'old.one@example.com', password_hash: await bcrypt.hash('first old password', 4), email_verified: true, name: 'Old One' }),
    JSON.stringify({ email: 'old.two@example.com', password_hash: await bcrypt.hash('second old password', 4) }),
  ].join('\n'));
  const result = await cli(['users', 'import', file, '--json']);
  expect(result.code, result.err).toBe(0);
  expect(JSON.parse(result.out)).toEqual({ imported: 2 });

  const account = await c.accounts.authenticate('old.one@example.com', 'first old password', {});
  expect(account?.emailVerified).toBe(true);
  const stored = await c.db.repos.accounts.findById(account!.id);
  expect(stored!.passwordHash).toMatch(/^\$argon2id\$/);
  expect(await c.accounts.authenticate('old.one@example.com', 'first old password', {})).toBeDefined();
  expect((await c.audit.listForAccount(account!.id, { limit: 5 })).map((e) => e.type)).toContain('account.imported');
});

it('imports nothing when one record is bad, naming the line', async () => {
  const file = path.join(dir, 'bad.jsonl');
  writeFileSync(file, [
    JSON.stringify({ email: 'fine@example.com', password_hash: await bcrypt.hash('x', 4) }),
    JSON.stringify({ email: 'bad@example.com', password_hash: 'md5:abc' }),
  ].join('\n'));
  const result = await cli(['users', 'import', file]);
  expect(result.code).not.toBe(0);
  expect(result.err).toMatch(/record 2: password_hash is not argon2id, bcrypt or PBKDF2/);
  expect(await c.db.repos.accounts.findByEmail('fine@example.com')).toBeNull();

  writeFileSync(file, '{"email": "x@example.com"}\n');
  const missing = await cli(['users', 'import', file]);
  expect(missing.code).toBe(2);
  expect(missing.err).toMatch(/line 1: password_hash/);
});
