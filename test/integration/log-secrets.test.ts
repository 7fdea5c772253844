import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/infra/logger.js';
import { adminToken } from '../helpers/admin-api-fixtures.js';
import {
  authorizationRequest,
  createAccount,
  createRelyingParty,
  openPage,
  signInForTokens,
  submitLogin,
  uniqueEmail,
} from '../helpers/accounts-fixtures.js';
import { BrowserAgent } from '../helpers/browser-agent.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

interface LogLine { level: number; msg: string; err?: { type?: string; code?: string; message?: string } }

/**
 * The JSON log of a real server while every 5xx path we can reach fails inside PostgreSQL or
 * Redis, carrying hashes, tokens and emails in its bind parameters or command arguments.
 */
describe('no secret ever reaches a log', () => {
  let t: TestServer;
  let output = '';
  const secrets: Record<string, string> = {};
  const basic = (id: string, secret: string) =>
    `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

  beforeAll(async () => {
    const stream = new Writable({ write(chunk, _encoding, done) { output += String(chunk); done(); } });
    t = await startTestServer({}, { logger: createLogger('info', stream as never) });
    secrets.cookieKey = t.env.PORTCULLIS_COOKIE_KEYS!;
    secrets.encryptionKey = t.env.PORTCULLIS_ENCRYPTION_KEY!;
  });
  afterAll(() => t?.close());

  const lines = () => output.trim().split('\n').filter(Boolean).map((line) => JSON.parse(line) as LogLine);

  it('logs the failures of a sign-in, an admin write and a token introspection without their secrets', async () => {
    // A real sign-in first, so codes, tokens and session cookies have been made and passed around.
    const user = await createAccount(t);
    secrets.password = user.password;
    const rp = await createRelyingParty(t);
    const tokens = await signInForTokens(new BrowserAgent(), rp.config, user);
    secrets.accessToken = tokens.access_token;
    secrets.idToken = tokens.id_token!;
    if (tokens.refresh_token) secrets.refreshToken = tokens.refresh_token;

    const { clients, rbac } = t.container;
    const bot = await clients.create({ name: 'Admin bot', type: 'service', allowAdminApi: true }, 'test');
    secrets.clientSecret = bot.secret!;
    await rbac.create('admin', 'administrators', 'test');
    await rbac.assign('admin', { client: bot.client.clientId }, 'test');
    const writeToken = await adminToken(t, bot.client.clientId, bot.secret!, 'admin:read admin:write');
    secrets.adminToken = writeToken;

    // 1. PostgreSQL refuses the INSERT of a new account, quoting the whole row (password hash included).
    await t.container.dataSource.query(`CREATE FUNCTION refuse_row() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'refused row %', row_to_json(NEW); END $$`);
    await t.container.dataSource.query(
      'CREATE TRIGGER refuse_accounts BEFORE INSERT ON accounts FOR EACH ROW EXECUTE FUNCTION refuse_row()',
    );
    const newPassword = `N3w-${crypto.randomUUID()}`;
    secrets.newPassword = newPassword;
    const created = await fetch(new URL('/admin/api/v1/accounts', t.issuer), {
      method: 'POST', headers: { authorization: `Bearer ${writeToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ email: uniqueEmail('refused'), password: newPassword }),
    });
    expect(created.status).toBe(500);

    // 2. A Redis command fails (WRONGTYPE) on a key named after the token being introspected.
    const ccToken = (await (
      await fetch(new URL('/token', t.issuer), {
        method: 'POST',
        headers: { authorization: basic(bot.client.clientId, bot.secret!) },
        body: new URLSearchParams({ grant_type: 'client_credentials' }),
      })
    ).json()) as { access_token: string };
    secrets.clientCredentialsToken = ccToken.access_token;
    if (t.container.redis) {
      const key = `ClientCredentials:${ccToken.access_token}`;
      expect(await t.container.redis.exists(key)).toBe(1);
      await t.container.redis.del(key);
      await t.container.redis.hset(key, { payload: ccToken.access_token });
      const introspected = await fetch(new URL('/token/introspection', t.issuer), {
        method: 'POST',
        headers: { authorization: basic(bot.client.clientId, bot.secret!) },
        body: new URLSearchParams({ token: ccToken.access_token }),
      });
      expect(introspected.status).toBe(500);
    }

    // 3. The accounts table is gone while someone signs in: the lookup by email fails.
    const agent = new BrowserAgent();
    const login = await openPage(agent, (await authorizationRequest(rp.config)).url);
    await t.container.dataSource.query('ALTER TABLE accounts RENAME TO accounts_gone');
    try {
      const posted = await submitLogin(agent, login, user);
      expect(posted.status).toBe(500);
    } finally {
      await t.container.dataSource.query('ALTER TABLE accounts_gone RENAME TO accounts');
    }

    const errors = lines().filter((line) => line.level >= 50 && line.err);
    // Each failure was logged, with what an operator needs: the SQLSTATE or the Redis error.
    expect(errors.some((line) => line.err?.code === 'P0001')).toBe(true); // raise_exception
    expect(errors.some((line) => line.err?.code === '42P01')).toBe(true); // undefined_table
    if (t.container.redis) expect(errors.some((line) => line.err?.type === 'ReplyError')).toBe(true);

    expect(output).not.toContain('$argon2');
    for (const [name, value] of Object.entries(secrets))
      expect(output.includes(value), `${name} is in the log`).toBe(false);
    expect(output).not.toMatch(/Bearer [\w-]{10,}/);
    expect(output).not.toMatch(/"(parameters|query|driverError|detail|args)":/);
  });
});
