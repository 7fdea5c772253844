import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../../src/config/load-config.js';
import { cliFixture } from '../helpers/cli-fixture.js';
import type { CliResult } from '../helpers/cli-runner.js';

const t = cliFixture();
const { cli, cliJson } = t;

/** A refusal: non-zero exit, nothing on stdout, one line on stderr without a stack trace. */
function expectOneLineRefusal(result: CliResult, codes: number[], pattern: RegExp | string): void {
  expect(codes).toContain(result.code);
  expect(result.stdout).toBe('');
  expect(result.stderr.split('\n')).toHaveLength(1);
  expect(result.stderr).toMatch(/^portcullis: /);
  expect(result.stderr).not.toMatch(/\n\s+at |\bat .*\.ts:\d+/);
  if (typeof pattern === 'string') expect(result.stderr).toContain(pattern);
  else expect(result.stderr).toMatch(pattern);
}

async function auditFor(column: 'client_id' | 'account_id', value: string) {
  const { rows } = await t.sql.query<{ type: string; actor: string; details: Record<string, unknown> }>(
    `SELECT type, actor, details FROM audit_events WHERE ${column} = $1 ORDER BY id`, [value]);
  return rows;
}

interface ClientJson {
  client_id: string; client_secret?: string; name: string; type: string; redirect_uris: string[];
  post_logout_redirect_uris: string[]; first_party: boolean;
}

describe('clients', () => {
  it('creates a web client, prints its secret once and stores it sealed', async () => {
    const created = await cliJson<ClientJson>([
      'clients', 'create', '--name', 'Web App', '--type', 'web', '--redirect-uri', 'https://app.example.com/cb',
      '--post-logout-redirect-uri', 'https://app.example.com/bye', '--first-party',
    ]);
    expect(created).toMatchObject({
      name: 'Web App', type: 'web', redirect_uris: ['https://app.example.com/cb'],
      post_logout_redirect_uris: ['https://app.example.com/bye'], first_party: true,
    });
    expect(created.client_id).toMatch(/^[A-Za-z0-9_-]{16,}$/);
    expect(created.client_secret).toMatch(/^[A-Za-z0-9_-]{43}$/);

    const { rows } = await t.sql.query<{ row: string; secret_encrypted: string }>(
      `SELECT row_to_json(c)::text AS row, secret_encrypted FROM clients c WHERE client_id = $1`, [created.client_id]);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.row).not.toContain(created.client_secret);
    expect(rows[0]!.secret_encrypted.split('.')).toHaveLength(5); // compact JWE

    // The server side reads the same secret back for oidc-provider to compare.
    expect(await t.container.clients.oidcMetadata(created.client_id)).toMatchObject({
      client_id: created.client_id, client_secret: created.client_secret, token_endpoint_auth_method: 'client_secret_basic',
    });
    // show never prints the secret again.
    const shown = await cliJson<ClientJson>(['clients', 'show', created.client_id]);
    expect(shown).not.toHaveProperty('client_secret');
    expect(JSON.stringify(shown)).not.toContain(created.client_secret);
  });

  it('tells people to store the secret when printing for humans', async () => {
    const result = await cli(['clients', 'create', '--name', 'Human', '--type', 'web', '--redirect-uri', 'https://h.example.com/cb']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^client_id: \S+$/m);
    expect(result.stdout).toMatch(/^client_secret: [A-Za-z0-9_-]{43}$/m);
    expect(result.stdout).toContain('Store the secret now: it is not shown again.');
  });

  it.each(['spa', 'native'])('creates a %s client without a secret', async (type) => {
    const created = await cliJson<ClientJson>(['clients', 'create', '--name', `${type} app`, '--type', type, '--redirect-uri', 'http://127.0.0.1:51000/cb']);
    expect(created).not.toHaveProperty('client_secret');
    const { rows } = await t.sql.query(`SELECT secret_encrypted FROM clients WHERE client_id = $1`, [created.client_id]);
    expect(rows).toEqual([{ secret_encrypted: null }]);
    expect(await t.container.clients.oidcMetadata(created.client_id)).toMatchObject({ token_endpoint_auth_method: 'none' });
    expect(await t.container.clients.oidcMetadata(created.client_id)).not.toHaveProperty('client_secret');
  });

  it('creates a service client with a secret and no redirect URIs', async () => {
    const created = await cliJson<ClientJson>(['clients', 'create', '--name', 'Worker', '--type', 'service']);
    expect(created.client_secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(created.redirect_uris).toEqual([]);
    expect(await t.container.clients.oidcMetadata(created.client_id)).toMatchObject({ grant_types: ['client_credentials', 'urn:ietf:params:oauth:grant-type:token-exchange'], client_secret: created.client_secret });

    const refused = await cli(['clients', 'create', '--name', 'Worker', '--type', 'service', '--redirect-uri', 'https://w.example.com/cb']);
    expectOneLineRefusal(refused, [1, 2], 'service clients have no redirect URIs');
  });

  it('refuses http redirect URIs on non-loopback hosts, naming the URI', async () => {
    const before = (await t.sql.query('SELECT count(*)::int AS n FROM clients')).rows[0].n as number;
    const result = await cli(['clients', 'create', '--name', 'Bad', '--type', 'web', '--redirect-uri', 'http://app.example.com/cb']);
    expectOneLineRefusal(result, [1, 2], 'http://app.example.com/cb: https is required except for loopback hosts');
    expect((await t.sql.query('SELECT count(*)::int AS n FROM clients')).rows[0].n).toBe(before);
  });

  it('refuses a redirect URI with a fragment, and a post-logout URI breaking the rules', async () => {
    expectOneLineRefusal(
      await cli(['clients', 'create', '--name', 'Bad', '--type', 'web', '--redirect-uri', 'https://app.example.com/cb#frag']),
      [1, 2], 'https://app.example.com/cb#frag: must not contain a fragment');
    expectOneLineRefusal(
      await cli(['clients', 'create', '--name', 'Bad', '--type', 'web', '--redirect-uri', 'https://app.example.com/cb', '--post-logout-redirect-uri', 'http://evil.example.com/']),
      [1, 2], 'http://evil.example.com/: https is required');
  });

  it('refuses a client without a name, type or required redirect URI', async () => {
    expectOneLineRefusal(await cli(['clients', 'create', '--type', 'web', '--redirect-uri', 'https://a.example.com/cb']), [2], '--name is required');
    expectOneLineRefusal(await cli(['clients', 'create', '--name', 'X', '--type', 'desktop']), [2], '--type must be one of web, spa, native, service');
    expectOneLineRefusal(await cli(['clients', 'create', '--name', 'X', '--type', 'web']), [1, 2], 'a web client needs at least one redirect URI');
  });

  it('accepts a reverse-domain private-use scheme for native apps only', async () => {
    const created = await cliJson<ClientJson>(['clients', 'create', '--name', 'Phone', '--type', 'native', '--redirect-uri', 'com.example.app:/oauth/callback']);
    expect(created.redirect_uris).toEqual(['com.example.app:/oauth/callback']);
    expectOneLineRefusal(
      await cli(['clients', 'create', '--name', 'Web', '--type', 'web', '--redirect-uri', 'com.example.app:/oauth/callback']),
      [1, 2], 'com.example.app:/oauth/callback');
    expectOneLineRefusal(
      await cli(['clients', 'create', '--name', 'Phone', '--type', 'native', '--redirect-uri', 'myapp:/cb']),
      [1, 2], 'myapp:/cb');
  });

  it('lists, shows, updates and deletes a client, auditing each change as "cli"', async () => {
    const created = await cliJson<ClientJson>(['clients', 'create', '--name', 'Lifecycle', '--type', 'web', '--redirect-uri', 'https://l.example.com/cb']);
    const id = created.client_id;

    const listed = await cliJson<ClientJson[]>(['clients', 'list']);
    expect(listed.find((client) => client.client_id === id)).toMatchObject({ name: 'Lifecycle', type: 'web' });
    expect(listed.every((client) => client.client_secret === undefined)).toBe(true);
    const human = await cli(['clients', 'list']);
    expect(human.stdout).toMatch(new RegExp(`^${id}  web +Lifecycle$`, 'm'));

    expect(await cliJson<ClientJson>(['clients', 'show', id])).toMatchObject({ client_id: id, name: 'Lifecycle', first_party: false });

    const updated = await cliJson<ClientJson>(['clients', 'update', id, '--name', 'Renamed', '--redirect-uri', 'https://l.example.com/new', '--redirect-uri', 'http://localhost:8080/cb', '--first-party']);
    expect(updated).toMatchObject({ name: 'Renamed', redirect_uris: ['https://l.example.com/new', 'http://localhost:8080/cb'], first_party: true });
    expect(await cliJson<ClientJson>(['clients', 'show', id])).toMatchObject({ name: 'Renamed', redirect_uris: ['https://l.example.com/new', 'http://localhost:8080/cb'], first_party: true });
    expect(await t.container.clients.oidcMetadata(id)).toMatchObject({ redirect_uris: ['https://l.example.com/new', 'http://localhost:8080/cb'] });

    expect(await cliJson<ClientJson>(['clients', 'update', id, '--no-first-party'])).toMatchObject({ first_party: false, name: 'Renamed' });

    // A refused update changes nothing.
    expectOneLineRefusal(await cli(['clients', 'update', id, '--redirect-uri', 'http://l.example.com/cb']), [1, 2], 'http://l.example.com/cb');
    expect((await cliJson<ClientJson>(['clients', 'show', id])).redirect_uris).toEqual(['https://l.example.com/new', 'http://localhost:8080/cb']);

    expect(await cliJson(['clients', 'delete', id])).toEqual({ client_id: id, deleted: true });
    expectOneLineRefusal(await cli(['clients', 'show', id]), [1], `no client with id ${id}`);
    expectOneLineRefusal(await cli(['clients', 'delete', id]), [1], `no client with id ${id}`);
    expect(await t.container.clients.oidcMetadata(id)).toBeUndefined();
    expect((await cliJson<ClientJson[]>(['clients', 'list'])).some((client) => client.client_id === id)).toBe(false);

    const events = await auditFor('client_id', id);
    expect(events.map((event) => event.type)).toEqual(['client.created', 'client.updated', 'client.updated', 'client.deleted']);
    expect(events.every((event) => event.actor === 'cli')).toBe(true);
    expect(events[1]!.details).toEqual({
      before: { name: 'Lifecycle', redirectUris: ['https://l.example.com/cb'], firstParty: false },
      after: { name: 'Renamed', redirectUris: ['https://l.example.com/new', 'http://localhost:8080/cb'], firstParty: true },
    });
  });

  it('rotates a confidential client secret: the old one stops matching', async () => {
    const created = await cliJson<ClientJson>(['clients', 'create', '--name', 'Rotating', '--type', 'web', '--redirect-uri', 'https://r.example.com/cb']);
    const rotated = await cliJson<ClientJson>(['clients', 'rotate-secret', created.client_id]);
    expect(rotated.client_id).toBe(created.client_id);
    expect(rotated.client_secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(rotated.client_secret).not.toBe(created.client_secret);

    const metadata = await t.container.clients.oidcMetadata(created.client_id);
    expect(metadata?.client_secret).toBe(rotated.client_secret);
    expect(metadata?.client_secret).not.toBe(created.client_secret);
    const { rows } = await t.sql.query<{ row: string }>(`SELECT row_to_json(c)::text AS row FROM clients c WHERE client_id = $1`, [created.client_id]);
    expect(rows[0]!.row).not.toContain(rotated.client_secret);

    const events = await auditFor('client_id', created.client_id);
    expect(events.map((event) => [event.type, event.actor])).toEqual([['client.created', 'cli'], ['client.secret_rotated', 'cli']]);
    expect(JSON.stringify(events)).not.toContain(rotated.client_secret);
  });

  it('refuses to rotate the secret of a public client', async () => {
    const created = await cliJson<ClientJson>(['clients', 'create', '--name', 'Public', '--type', 'spa', '--redirect-uri', 'https://p.example.com/cb']);
    expectOneLineRefusal(await cli(['clients', 'rotate-secret', created.client_id]), [1, 2], 'spa clients are public and have no secret');
    expect(await t.container.clients.oidcMetadata(created.client_id)).not.toHaveProperty('client_secret');
  });

  it('sets back-channel logout, token lifetimes, DPoP and PAR requirements, and clears them', async () => {
    const created = await cliJson<Record<string, unknown> & ClientJson>([
      'clients', 'create', '--name', 'Tuned', '--type', 'spa', '--redirect-uri', 'https://t.example.com/cb',
      '--backchannel-logout-uri', 'https://t.example.com/logout', '--access-token-ttl', '300', '--id-token-ttl', '600',
      '--refresh-token-ttl', '86400', '--require-dpop', '--require-par',
    ]);
    expect(created).toMatchObject({
      backchannel_logout_uri: 'https://t.example.com/logout', backchannel_logout_session_required: true,
      access_token_ttl: 300, id_token_ttl: 600, refresh_token_ttl: 86400, require_dpop: true, require_par: true,
    });
    expect(await t.container.clients.oidcMetadata(created.client_id)).toMatchObject({
      backchannel_logout_uri: 'https://t.example.com/logout', backchannel_logout_session_required: true,
      access_token_ttl: 300, id_token_ttl: 600, refresh_token_ttl: 86400, dpop_bound_access_tokens: true, require_pushed_authorization_requests: true,
    });
    const updated = await cliJson<Record<string, unknown>>([
      'clients', 'update', created.client_id, '--no-backchannel-logout-uri', '--access-token-ttl', 'default', '--no-require-dpop', '--no-require-par',
    ]);
    expect(updated).toMatchObject({ backchannel_logout_uri: null, access_token_ttl: null, id_token_ttl: 600, require_dpop: false, require_par: false });
    const metadata = await t.container.clients.oidcMetadata(created.client_id);
    expect(metadata).not.toHaveProperty('backchannel_logout_uri');
    expect(metadata).not.toHaveProperty('access_token_ttl');
    const [, update] = await auditFor('client_id', created.client_id);
    expect(update).toMatchObject({ type: 'client.updated', details: { before: { requireDpop: true, accessTokenTtl: 300 }, after: { requireDpop: false, accessTokenTtl: null } } });
  });

  it('refuses an http back-channel logout URI off loopback and a lifetime that is not whole seconds', async () => {
    const base = ['clients', 'create', '--name', 'Bad', '--type', 'web', '--redirect-uri', 'https://b.example.com/cb'];
    expectOneLineRefusal(await cli([...base, '--backchannel-logout-uri', 'http://b.example.com/logout']), [1, 2], 'https is required except for loopback hosts');
    expectOneLineRefusal(await cli([...base, '--access-token-ttl', '5m']), [1, 2], '--access-token-ttl must be a whole number of seconds');
    expectOneLineRefusal(await cli([...base, '--refresh-token-ttl', '999999999']), [1, 2], 'refreshTokenTtl must be a whole number of seconds between 1 and');
  });

  it('allows the device flow for native clients only', async () => {
    const native = await cliJson<Record<string, unknown> & ClientJson>(['clients', 'create', '--name', 'TV', '--type', 'native', '--redirect-uri', 'http://127.0.0.1:51000/cb', '--device-flow']);
    expect(native.device_flow).toBe(true);
    expect(await t.container.clients.oidcMetadata(native.client_id)).toMatchObject({
      grant_types: ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code'],
    });
    await cliJson(['clients', 'update', native.client_id, '--no-device-flow']);
    expect(await t.container.clients.oidcMetadata(native.client_id)).toMatchObject({ grant_types: ['authorization_code', 'refresh_token'] });
    expectOneLineRefusal(await cli(['clients', 'create', '--name', 'SPA', '--type', 'spa', '--redirect-uri', 'https://s.example.com/cb', '--device-flow']), [1, 2], 'only native clients may use the device flow');
  });
});

interface UserJson { id: string; email: string; email_verified: boolean; name: string | null; roles: string[]; disabled: boolean }

describe('users', () => {
  it('creates a verified admin with the password from standard input', async () => {
    const user = await cliJson<UserJson>(
      ['users', 'create', '--email', 'admin@example.com', '--password-stdin', '--verified', '--role', 'admin', '--name', 'Ada'],
      { stdin: 'correct horse battery staple\n' });
    expect(user.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(user).toMatchObject({ email: 'admin@example.com', email_verified: true, name: 'Ada', roles: ['admin'], disabled: false });

    // The trailing newline is not part of the password, and the hash is no plain text.
    expect(await t.container.accounts.authenticate('admin@example.com', 'correct horse battery staple', {})).toMatchObject({ id: user.id });
    expect(await t.container.accounts.authenticate('admin@example.com', 'correct horse battery staple\n', {})).toBeUndefined();
    const { rows } = await t.sql.query<{ password_hash: string }>('SELECT password_hash FROM accounts WHERE id = $1', [user.id]);
    expect(rows[0]!.password_hash).toMatch(/^\$argon2id\$/);

    const events = await auditFor('account_id', user.id);
    expect(events.map((event) => [event.type, event.actor])).toEqual(
      expect.arrayContaining([['role.assigned', 'cli'], ['account.created', 'cli']]));
    expect(JSON.stringify(events)).not.toContain('correct horse');
  });

  it('refuses a password that is not read from standard input', async () => {
    expectOneLineRefusal(
      await cli(['users', 'create', '--email', 'nostdin@example.com'], { stdin: 'secret-password' }),
      [2], '--password-stdin is required');
    expectOneLineRefusal(await cli(['users', 'create', '--email', 'nostdin@example.com', '--password', 'x']), [2], /unknown option/i);
    expectOneLineRefusal(await cli(['users', 'create', '--email', 'nostdin@example.com', '--password-stdin'], { stdin: '' }), [2], 'no password on standard input');
    const { rows } = await t.sql.query(`SELECT 1 FROM accounts WHERE email = 'nostdin@example.com'`);
    expect(rows).toHaveLength(0);
  });

  it('refuses a duplicate email, whatever its case, with a clear message', async () => {
    await cliJson(['users', 'create', '--email', 'dup@example.com', '--password-stdin'], { stdin: 'first-password' });
    const result = await cli(['users', 'create', '--email', 'DUP@example.com', '--password-stdin'], { stdin: 'second-password' });
    expectOneLineRefusal(result, [1, 2], 'an account with this email exists');
    const { rows } = await t.sql.query(`SELECT 1 FROM accounts WHERE lower(email) = 'dup@example.com'`);
    expect(rows).toHaveLength(1);
  });

  it('shows, lists, disables and enables accounts', async () => {
    const user = await cliJson<UserJson>(['users', 'create', '--email', 'zed@example.com', '--password-stdin'], { stdin: 'zed-password' });
    expect(user).toMatchObject({ email_verified: false, roles: [], disabled: false });

    expect(await cliJson<UserJson>(['users', 'show', user.id])).toMatchObject({ id: user.id, email: 'zed@example.com' });
    expect(await cliJson<UserJson>(['users', 'show', 'ZED@example.com'])).toMatchObject({ id: user.id });
    expectOneLineRefusal(await cli(['users', 'show', 'nobody@example.com']), [1], 'no account nobody@example.com');

    const listed = await cliJson<UserJson[]>(['users', 'list']);
    const emails = listed.map((entry) => entry.email);
    expect(emails).toContain('zed@example.com');
    expect(emails).toEqual([...emails].sort((a, b) => a.toLowerCase().localeCompare(b.toLowerCase())));
    expect(listed.every((entry) => !('password_hash' in entry) && !('passwordHash' in entry))).toBe(true);
    expect(await cliJson<UserJson[]>(['users', 'list', '--limit', '1'])).toHaveLength(1);
    expect((await cliJson<UserJson[]>(['users', 'list', '--search', 'ZE'])).map((entry) => entry.email)).toEqual(['zed@example.com']);
    expectOneLineRefusal(await cli(['users', 'list', '--limit', '0']), [2], '--limit must be a whole number from 1 to 1000');

    expect(await cliJson<UserJson>(['users', 'disable', 'zed@example.com'])).toMatchObject({ id: user.id, disabled: true });
    expect(await cliJson<UserJson>(['users', 'show', user.id])).toMatchObject({ disabled: true });
    expect((await cli(['users', 'list'])).stdout).toContain(`${user.id}  zed@example.com  (disabled)`);
    expect(await t.container.accounts.authenticate('zed@example.com', 'zed-password', {})).toBeUndefined();

    expect(await cliJson<UserJson>(['users', 'enable', user.id])).toMatchObject({ id: user.id, disabled: false });
    expect(await t.container.accounts.authenticate('zed@example.com', 'zed-password', {})).toMatchObject({ id: user.id });

    const events = (await auditFor('account_id', user.id)).filter((event) => event.type.startsWith('account.'));
    expect(events.map((event) => [event.type, event.actor])).toEqual([['account.created', 'cli'], ['account.disabled', 'cli'], ['account.enabled', 'cli']]);
  });
});

interface KeyJson { kid: string; alg: string; status: string; activates_at: string; retired_at: string | null; expires_at: string | null }

describe('keys', () => {
  it('rotates keys: at once with --now, after the default publish lead without it', async () => {
    expect(await cliJson<KeyJson[]>(['keys', 'list'])).toEqual([]);

    const beforeNow = Date.now();
    const current = await cliJson<KeyJson>(['keys', 'rotate', '--now']);
    expect(current).toMatchObject({ alg: 'RS256', status: 'signing', retired_at: null, expires_at: null });
    expect(Date.parse(current.activates_at)).toBeGreaterThanOrEqual(beforeNow);
    expect(Date.parse(current.activates_at)).toBeLessThanOrEqual(Date.now());

    // NODE_ENV=development reads only config/default.yaml: the shipped one-day publish lead.
    const before = Date.now();
    const next = await cliJson<KeyJson>(['keys', 'rotate'], { env: { NODE_ENV: 'development' } });
    const afterRotate = Date.now();
    expect(next).toMatchObject({ alg: 'RS256', status: 'next' });
    expect(Date.parse(next.activates_at)).toBeGreaterThanOrEqual(before + 86_400_000);
    expect(Date.parse(next.activates_at)).toBeLessThanOrEqual(afterRotate + 86_400_000);

    const listed = await cliJson<KeyJson[]>(['keys', 'list']);
    expect(listed.map((key) => [key.kid, key.status])).toEqual([[next.kid, 'next'], [current.kid, 'signing']]);
    expect(listed[1]!.retired_at).toBe(next.activates_at);
    expect(Date.parse(listed[1]!.expires_at!)).toBeGreaterThan(Date.parse(next.activates_at));
    for (const key of listed) expect(Object.keys(key).sort()).toEqual(['activates_at', 'alg', 'expires_at', 'kid', 'retired_at', 'status']);

    const human = await cli(['keys', 'list']);
    expect(human.stdout).toMatch(new RegExp(`^${next.kid}  RS256  next     activates `, 'm'));

    const { rows } = await t.sql.query<{ kid: string; actor: string }>(
      `SELECT details->>'kid' AS kid, actor FROM audit_events WHERE type = 'key.rotated' ORDER BY id`);
    expect(rows).toEqual([{ kid: current.kid, actor: 'cli' }, { kid: next.kid, actor: 'cli' }]);

    // The keys the CLI made are the ones the server signs with.
    expect((await t.container.keys.privateJwks()).keys.map((key) => key.kid)).toEqual([current.kid, next.kid]);
  });

  it('says when a rotated key will sign, for humans', async () => {
    const result = await cli(['keys', 'rotate'], { env: { NODE_ENV: 'development' } });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^new key \S+ \(RS256\) published; signs from \d{4}-\d\d-\d\dT/);
  });
});

describe('audit', () => {
  it('verifies the chain and reports how many events it holds', async () => {
    await cliJson(['clients', 'create', '--name', 'Audited', '--type', 'service']);
    const { rows } = await t.sql.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_events');
    const total = rows[0]!.n;
    expect(total).toBeGreaterThan(0);

    const result = await cli(['audit', 'verify']);
    expect(result).toEqual({ code: 0, stdout: `audit chain intact: ${total} events`, stderr: '' });
    expect(await cliJson(['audit', 'verify'])).toEqual({ ok: true, count: total });
  });

  it('exports events since a time as JSON lines', async () => {
    const first = await cliJson<ClientJson>(['clients', 'create', '--name', 'Export A', '--type', 'service']);
    const second = await cliJson<ClientJson>(['clients', 'create', '--name', 'Export B', '--type', 'service']);
    const { rows } = await t.sql.query<{ id: string; occurred_at: Date }>(
      `SELECT id::text, occurred_at FROM audit_events WHERE client_id = $1 AND type = 'client.created'`, [second.client_id]);
    const since = rows[0]!.occurred_at.toISOString();

    const result = await cli(['audit', 'export', '--since', since]);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    const lines = result.stdout.split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines[0]).toMatchObject({ id: rows[0]!.id, type: 'client.created', actor: 'cli', clientId: second.client_id, occurredAt: since });
    expect(lines[0]).toHaveProperty('hash');
    expect(lines[0]).toHaveProperty('prevHash');
    expect(lines.some((line) => line.clientId === first.client_id)).toBe(false);
    for (const line of lines) expect(Date.parse(line.occurredAt as string)).toBeGreaterThanOrEqual(Date.parse(since));

    expect(await cli(['audit', 'export', '--since', '2999-01-01T00:00:00Z'])).toEqual({ code: 0, stdout: '', stderr: '' });
    expectOneLineRefusal(await cli(['audit', 'export', '--since', 'yesterday']), [2], '--since must be an ISO 8601 date or time');
    expectOneLineRefusal(await cli(['audit', 'export']), [2], '--since is required');
  });
});

describe('usage errors', () => {
  it.each([
    [['frobnicate'], 'unknown command group "frobnicate"'],
    [['clients', 'frobnicate'], 'unknown command "clients frobnicate"; one of: create, list, show, update, delete, rotate-secret'],
    [['clients'], 'unknown command "clients '],
    [['clients', 'list', '--bogus'], /unknown option '--bogus'/i],
    [['clients', 'show'], 'missing <client_id>'],
  ] as const)('exits 2 with one line for %j', async (argv, message) => {
    expectOneLineRefusal(await cli([...argv]), [2], message);
  });

  it('prints help with --help and exits 0', async () => {
    const result = await cli(['--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^usage: portcullis <group> <command>/);
    expect(result.stdout).toContain('clients rotate-secret');
  });
});

describe('the real binary', () => {
  function run(args: string[]): Promise<CliResult> {
    const child = spawn(process.execPath, [path.join(projectRoot, 'bin', 'portcullis.js'), ...args], {
      cwd: projectRoot, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...t.env }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk; });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk; });
    return new Promise((resolve, reject) => {
      child.on('error', reject);
      // oidc-provider 9 warns on Node 20 at import (expected: see README); everything else must be silent.
      child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr: stderr.replace(/^oidc-provider WARNING: Unsupported runtime.*\n/m, '') }));
    });
  }

  it('creates a client and prints it as JSON', async () => {
    const result = await run(['clients', 'create', '--name', 'From Bin', '--type', 'web', '--redirect-uri', 'https://bin.example.com/cb', '--json']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const created = JSON.parse(result.stdout) as ClientJson;
    expect(created).toMatchObject({ name: 'From Bin', type: 'web', redirect_uris: ['https://bin.example.com/cb'] });
    expect(await t.container.clients.oidcMetadata(created.client_id)).toMatchObject({ client_secret: created.client_secret });
  });

  it('exits 2 with one line for a bad command', async () => {
    const result = await run(['frobnicate']);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe('portcullis: unknown command group "frobnicate" (try --help)\n');
  });
});
