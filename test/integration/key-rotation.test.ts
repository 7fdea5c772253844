import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, importJWK, jwtVerify, type JWK } from 'jose';
import Provider from 'oidc-provider';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { openDataSource } from '../../src/infra/data-source.js';
import { createSecretBox } from '../../src/infra/secret-box.js';
import { createDatabase } from '../../src/infra/unit-of-work.js';
import { createKeyService, type SigningAlg } from '../../src/keys/key-service.js';
import { entities, repositoriesFor } from '../../src/repositories.js';
import { createTestDatabase } from '../helpers/test-database.js';

/** createdAt is the database's clock, not the test's: left out where the test compares whole keys. */
const withoutCreatedAt = <T extends { createdAt?: unknown }>(keys: T[]) => keys.map(({ createdAt: _createdAt, ...rest }) => rest);

const privateMembers = ['d', 'p', 'q', 'dp', 'dq', 'qi'] as const;
const lead = 3600;
const maxTtl = 600;
const t0 = new Date('2030-01-01T00:00:00.000Z');

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

/** A key service over a fresh database, with a clock the test moves by hand. */
async function setup(algorithm: SigningAlg = 'RS256', rotationDays = 0) {
  const { url } = await createTestDatabase();
  const dataSource = await openDataSource({ url, poolSize: 2, entities, migrations: [] });
  cleanups.push(() => dataSource.destroy());
  const sql = new pg.Client({ connectionString: url });
  await sql.connect();
  cleanups.push(() => sql.end());
  const encryptionKey = randomBytes(32).toString('base64url');
  let clock = t0;
  const keys = createKeyService({
    db: createDatabase(dataSource, repositoriesFor), secretBox: createSecretBox(encryptionKey),
    algorithm, publishLeadSeconds: lead, maxTokenTtlSeconds: maxTtl, rotationDays, now: () => clock,
  });
  return {
    keys, sql, encryptionKey,
    /** Sets the injected clock to `seconds` after t0. */
    at(seconds: number) { clock = new Date(t0.getTime() + seconds * 1000); },
    async rows() {
      const { rows } = await sql.query<{ kid: string; alg: string; public_jwk: Record<string, unknown>; private_jwk_encrypted: string }>(
        'SELECT kid, alg, public_jwk, private_jwk_encrypted FROM signing_keys ORDER BY created_at');
      return rows;
    },
  };
}

const kids = (jwks: { keys: JWK[] }) => jwks.keys.map((key) => key.kid);
const after = (seconds: number) => new Date(t0.getTime() + seconds * 1000);

describe('scheduled rotation and emergency revoke', () => {
  const day = 86_400;

  it('publishes the next key a publish lead before the rotation date, and it takes over on that date', async () => {
    const s = await setup('RS256', 90);
    await s.keys.ensureSigningKey();
    const [first] = await s.keys.list();
    s.at(90 * day - lead - 1);
    expect(await s.keys.rotateIfDue()).toBeUndefined();
    s.at(90 * day - lead);
    const next = await s.keys.rotateIfDue();
    expect(next).toMatchObject({ status: 'next', activatesAt: new Date(t0.getTime() + 90 * day * 1000) });
    // Due again on the next check, but a successor is already waiting: nothing more happens.
    expect(await s.keys.rotateIfDue()).toBeUndefined();
    expect((await s.keys.privateJwks()).keys[0]!.kid).toBe(first!.kid);
    s.at(90 * day);
    expect((await s.keys.privateJwks()).keys[0]!.kid).toBe(next!.kid);
    expect((await s.keys.list()).find((k) => k.kid === first!.kid)?.status).toBe('retired');
  });

  it('does nothing when the schedule is off', async () => {
    const s = await setup('RS256', 0);
    await s.keys.ensureSigningKey();
    s.at(1000 * day);
    expect(await s.keys.rotateIfDue()).toBeUndefined();
  });

  it('drops a revoked key from the key set at once and replaces a revoked signing key immediately', async () => {
    const s = await setup();
    await s.keys.ensureSigningKey();
    const [signing] = await s.keys.list();
    const after = await s.keys.revoke(signing!.kid, 'test');
    expect(after.map((k) => k.kid)).not.toContain(signing!.kid);
    const jwks = await s.keys.privateJwks();
    expect(jwks.keys.map((k) => k.kid)).not.toContain(signing!.kid);
    expect(jwks.keys).toHaveLength(1);
    expect((await s.keys.list())[0]!.status).toBe('signing');
    await expect(s.keys.revoke('no-such-kid', 'test')).rejects.toMatchObject({ code: 'key_not_found', status: 404 });
  });
});

describe('key service', () => {
  it('makes one key on first start and none on the next', async () => {
    const { keys, sql, rows } = await setup();
    await keys.ensureSigningKey();
    await keys.ensureSigningKey();
    const stored = await rows();
    expect(stored).toHaveLength(1);
    expect(withoutCreatedAt(await keys.list())).toEqual([
      { kid: stored[0]!.kid, alg: 'RS256', status: 'signing', activatesAt: t0, retiredAt: null, expiresAt: null },
    ]);
    const { rows: events } = await sql.query('SELECT type, actor, details FROM audit_events ORDER BY id');
    expect(events).toEqual([{ type: 'key.created', actor: 'system', details: { kid: stored[0]!.kid, alg: 'RS256', activatesAt: t0.toISOString() } }]);
  });

  it('makes one key when several instances start at once', async () => {
    const { keys, rows } = await setup();
    await Promise.all([keys.ensureSigningKey(), keys.ensureSigningKey(), keys.ensureSigningKey()]);
    expect(await rows()).toHaveLength(1);
  });

  it('publishes a rotated key first, signs with it only after the publish lead, then drops the old one', async () => {
    const { keys, at } = await setup();
    await keys.ensureSigningKey();
    const [old] = await keys.list();

    at(60);
    const next = await keys.rotate('tester');
    expect(next).toMatchObject({ status: 'next', activatesAt: after(60 + lead), retiredAt: null, expiresAt: null });
    expect(next.kid).not.toBe(old!.kid);

    // Published at once, so verifiers cache it, but the old key still signs and comes first.
    const retiresAt = after(60 + lead);
    const expiresAt = after(60 + lead + maxTtl);
    expect(withoutCreatedAt(await keys.list())).toEqual([
      { kid: next.kid, alg: 'RS256', status: 'next', activatesAt: retiresAt, retiredAt: null, expiresAt: null },
      { kid: old!.kid, alg: 'RS256', status: 'signing', activatesAt: t0, retiredAt: retiresAt, expiresAt },
    ]);
    expect(kids(await keys.privateJwks())).toEqual([old!.kid, next.kid]);
    const before = await keys.fingerprint();

    at(60 + lead - 1);
    expect(kids(await keys.privateJwks())).toEqual([old!.kid, next.kid]);
    expect(await keys.fingerprint()).toBe(before);

    // The lead has passed: the new key signs, the old one stays published for what it signed.
    at(60 + lead);
    expect((await keys.list()).map((key) => [key.kid, key.status])).toEqual([[next.kid, 'signing'], [old!.kid, 'retired']]);
    expect(kids(await keys.privateJwks())).toEqual([next.kid, old!.kid]);
    expect(await keys.fingerprint()).not.toBe(before);

    at(60 + lead + maxTtl - 1);
    expect((await keys.list()).map((key) => [key.kid, key.status])).toEqual([[next.kid, 'signing'], [old!.kid, 'retired']]);

    at(60 + lead + maxTtl);
    expect((await keys.list()).map((key) => [key.kid, key.status])).toEqual([[next.kid, 'signing']]);
    expect(kids(await keys.privateJwks())).toEqual([next.kid]);
  });

  it('signs with a key rotated with immediate at once', async () => {
    const { keys, sql, at } = await setup();
    await keys.ensureSigningKey();
    const [old] = await keys.list();

    at(120);
    const fresh = await keys.rotate('tester', { immediate: true });
    expect(fresh).toMatchObject({ status: 'signing', activatesAt: after(120) });
    expect(withoutCreatedAt(await keys.list())).toEqual([
      { kid: fresh.kid, alg: 'RS256', status: 'signing', activatesAt: after(120), retiredAt: null, expiresAt: null },
      { kid: old!.kid, alg: 'RS256', status: 'retired', activatesAt: t0, retiredAt: after(120), expiresAt: after(120 + maxTtl) },
    ]);
    expect(kids(await keys.privateJwks())).toEqual([fresh.kid, old!.kid]);

    const { rows } = await sql.query(`SELECT type, actor, details->>'kid' AS kid FROM audit_events WHERE type = 'key.rotated'`);
    expect(rows).toEqual([{ type: 'key.rotated', actor: 'tester', kid: fresh.kid }]);
  });

  it('keeps the immediate key signing when it overtakes a pending one', async () => {
    // rotate, then rotate --now before the first one activated: the newest rotation must win.
    const { keys, at } = await setup();
    await keys.ensureSigningKey();
    at(60);
    const pending = await keys.rotate('tester');
    at(120);
    const urgent = await keys.rotate('tester', { immediate: true });
    expect(kids(await keys.privateJwks())[0]).toBe(urgent.kid);
    // The overtaken key stays published (verifiers may have cached it) but will never sign.
    expect((await keys.list()).find((key) => key.kid === pending.kid)?.status).toBe('retired');

    // When the pending key's activation time comes, it must not take over signing.
    at(60 + lead);
    expect(kids(await keys.privateJwks())[0]).toBe(urgent.kid);
    const statuses = Object.fromEntries((await keys.list()).map((key) => [key.kid, key.status]));
    expect(statuses[urgent.kid]).toBe('signing');
    expect(statuses[pending.kid]).toBe('retired');

    // And urgent is still the signer after every other key has gone.
    at(60 + lead + maxTtl + 1);
    expect(kids(await keys.privateJwks())).toEqual([urgent.kid]);
  });

  it('never exposes private members outside the sealed column', async () => {
    const { keys, rows, encryptionKey } = await setup();
    await keys.ensureSigningKey();
    await keys.rotate('tester');
    const listed = await keys.list();
    for (const key of listed) {
      expect(Object.keys(key).sort()).toEqual(['activatesAt', 'alg', 'createdAt', 'expiresAt', 'kid', 'retiredAt', 'status']);
    }

    const privateJwks = (await keys.privateJwks()).keys;
    const stored = await rows();
    expect(stored).toHaveLength(2);
    for (const row of stored) {
      for (const member of privateMembers) expect(row.public_jwk).not.toHaveProperty(member);
      expect(row.public_jwk).toMatchObject({ kid: row.kid, alg: 'RS256', use: 'sig', kty: 'RSA' });

      // Sealed: not JSON, and the private exponent appears nowhere in it.
      const privateJwk = privateJwks.find((jwk) => jwk.kid === row.kid)!;
      expect(typeof privateJwk.d).toBe('string');
      expect(() => JSON.parse(row.private_jwk_encrypted) as unknown).toThrow();
      expect(row.private_jwk_encrypted).not.toContain(privateJwk.d);
      expect(row.private_jwk_encrypted.split('.')).toHaveLength(5); // compact JWE
      // ... and it only opens with the key-encryption key it was sealed with.
      expect(await createSecretBox(encryptionKey).open(row.private_jwk_encrypted)).toContain(privateJwk.d);
      await expect(createSecretBox(randomBytes(32).toString('base64url')).open(row.private_jwk_encrypted)).rejects.toThrow();
    }
  });

  it.each([['RS256', 'RSA'], ['ES256', 'EC'], ['EdDSA', 'OKP']] as const)('works with %s keys', async (alg, kty) => {
    const { keys, rows } = await setup(alg);
    await keys.ensureSigningKey();
    await keys.rotate('tester', { immediate: true });
    const jwks = await keys.privateJwks();
    expect(jwks.keys).toHaveLength(2);
    const stored = await rows();

    for (const privateJwk of jwks.keys) {
      expect(privateJwk).toMatchObject({ alg, kty, use: 'sig' });
      const row = stored.find((candidate) => candidate.kid === privateJwk.kid)!;
      expect(row.alg).toBe(alg);
      for (const member of privateMembers) expect(row.public_jwk).not.toHaveProperty(member);
      // The published half verifies what the sealed half signs.
      const token = await new SignJWT({ sub: 'x' }).setProtectedHeader({ alg, kid: privateJwk.kid }).sign(await importJWK(privateJwk, alg));
      const { protectedHeader } = await jwtVerify(token, await importJWK(row.public_jwk as JWK, alg));
      expect(protectedHeader.kid).toBe(privateJwk.kid);
    }

    // oidc-provider accepts the key set and publishes only the public halves, signing key first.
    const provider = new Provider('http://127.0.0.1', { jwks, features: { devInteractions: { enabled: false } } });
    const server = http.createServer(provider.callback());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => server.close(resolve)));
    const response = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`);
    expect(response.status).toBe(200);
    const published = (await response.json()) as { keys: JWK[] };
    expect(kids(published)).toEqual(kids(jwks));
    for (const jwk of published.keys) {
      expect(jwk.kty).toBe(kty);
      for (const member of privateMembers) expect(jwk).not.toHaveProperty(member);
    }
  });
});
