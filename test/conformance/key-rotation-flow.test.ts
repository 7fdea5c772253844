import * as oidc from 'openid-client';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runCli } from '../../src/cli/index.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

const api = 'https://api.example.test';
let t: TestServer;
let service: oidc.Configuration;

const jwks = async () => (await (await fetch(new URL('/jwks', t.issuer))).json()) as JSONWebKeySet;
const jwtFor = async () => (await oidc.clientCredentialsGrant(service, { resource: api, scope: 'read' })).access_token;
const verify = async (token: string) => jwtVerify(token, createLocalJWKSet(await jwks()), { issuer: t.issuer, audience: api });

beforeAll(async () => {
  t = await startTestServer({ apis: [{ identifier: api, scopes: ['read'] }] });
  const { client, secret } = await t.container.clients.create({ name: 'Worker', type: 'service' }, 'test');
  service = await oidc.discovery(new URL(t.issuer), client.clientId, {}, oidc.ClientSecretBasic(secret!), { execute: [oidc.allowInsecureRequests] });
});
afterAll(() => t?.close());

it('publishes a rotated key before it signs, then signs with it while old tokens still verify', async () => {
  const before = await jwtFor();
  const oldKid = decodeProtectedHeader(before).kid;

  // `keys rotate` publishes the next key; it must not sign yet.
  expect(await runCli(['keys', 'rotate'], { env: t.env, write: () => {} })).toBe(0);
  expect(await t.server.host.reload()).toBe(true);
  const published = await jwks();
  expect(published.keys).toHaveLength(2);
  expect(decodeProtectedHeader(await jwtFor()).kid).toBe(oldKid);

  // An emergency rotation signs at once; the token signed before it still verifies.
  expect(await runCli(['keys', 'rotate', '--now'], { env: t.env, write: () => {} })).toBe(0);
  expect(await t.server.host.reload()).toBe(true);
  const after = await jwtFor();
  const newKid = decodeProtectedHeader(after).kid;
  expect(newKid).not.toBe(oldKid);
  await expect(verify(before)).resolves.toBeTruthy();
  await expect(verify(after)).resolves.toBeTruthy();
  for (const key of (await jwks()).keys) for (const member of ['d', 'p', 'q', 'dp', 'dq', 'qi']) expect(key).not.toHaveProperty(member);
});

it('reload is a no-op when the key set has not changed', async () => {
  expect(await t.server.host.reload()).toBe(false);
});

it('drops an emergency-revoked key at once: what it signed stops verifying, new tokens use its replacement', async () => {
  const before = await jwtFor();
  const revokedKid = decodeProtectedHeader(before).kid!;
  const out: string[] = [];
  expect(await runCli(['keys', 'revoke', revokedKid, '--json'], { env: t.env, write: (text) => out.push(text) })).toBe(0);
  expect(JSON.parse(out.join('\n')).revoked).toBe(revokedKid);
  expect(await t.server.host.reload()).toBe(true);
  expect((await jwks()).keys.map((key) => key.kid)).not.toContain(revokedKid);
  await expect(verify(before)).rejects.toThrow();
  const after = await jwtFor();
  expect(decodeProtectedHeader(after).kid).not.toBe(revokedKid);
  await expect(verify(after)).resolves.toBeTruthy();
});
