import { decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair, SignJWT, UnsecuredJWT } from 'jose';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminToken } from '../helpers/admin-api-fixtures.js';
import { BrowserAgent } from '../helpers/browser-agent.js';
import { createAccount, createRelyingParty, signInForTokens } from '../helpers/accounts-fixtures.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

/** The admin API checks what a self-contained token is, who signed it and for whom (ASVS 5.0 V9). */
let t: TestServer;
let valid: string;
let bot: { clientId: string; secret: string };

const callAdminApi = (token: string) => fetch(new URL('/admin/api/v1/clients', t.issuer), {
  headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
}).then(async (response) => ({ status: response.status, body: await response.json() as { error?: string } }));

beforeAll(async () => {
  t = await startTestServer({ captcha: { provider: 'none' } });
  await t.container.rbac.create('admin', 'administrators', 'test');
  const created = await t.container.clients.create({ name: 'Admin bot', type: 'service', allowAdminApi: true }, 'test');
  bot = { clientId: created.client.clientId, secret: created.secret! };
  await t.container.rbac.assign('admin', { client: bot.clientId }, 'test');
  valid = await adminToken(t, bot.clientId, bot.secret, 'admin:read');
});
afterAll(() => t?.close());

describe('the admin API and self-contained tokens', () => {
  it('accepts its own access token (the baseline the refusals below differ from)', async () => {
    expect((await callAdminApi(valid)).status).toBe(200);
  });

  it('refuses the same claims unsigned (alg none) or MACed with a guessable key (HS256)', async () => {
    const payload = decodeJwt(valid);
    const { kid } = decodeProtectedHeader(valid);
    const unsigned = new UnsecuredJWT(payload).encode();
    const maced = await new SignJWT(payload).setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid })
      .sign(new TextEncoder().encode('a-secret-the-attacker-chose-32-bytes!'));
    for (const token of [unsigned, maced]) {
      expect(await callAdminApi(token)).toMatchObject({ status: 401, body: { error: 'invalid_token' } });
    }
  });

  it('ignores keys the token names itself (jwk, jku headers) and a key of its own choosing', async () => {
    const payload = decodeJwt(valid);
    const { kid } = decodeProtectedHeader(valid);
    const { privateKey, publicKey } = await generateKeyPair('RS256');
    const jwk = await exportJWK(publicKey);
    const tokens = await Promise.all([
      new SignJWT(payload).setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', jwk }).sign(privateKey),
      new SignJWT(payload)
        .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid, jku: 'https://attacker.example/jwks' })
        .sign(privateKey),
      new SignJWT(payload).setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid }).sign(privateKey),
    ]);
    for (const token of tokens) {
      expect(await callAdminApi(token)).toMatchObject({ status: 401, body: { error: 'invalid_token' } });
    }
  });

  it('refuses an ID token of ours: right signature, wrong type and audience', async () => {
    const rp = await createRelyingParty(t);
    const tokens = await signInForTokens(new BrowserAgent(), rp.config, await createAccount(t));
    expect(tokens.id_token).toBeDefined();
    expect(await callAdminApi(tokens.id_token!)).toMatchObject({ status: 401, body: { error: 'invalid_token' } });
  });

  it("refuses an access token of ours for another API: right signature and type, someone else's audience", async () => {
    const reports = 'https://reports.example.test';
    await t.container.apis.create({ identifier: reports, name: 'Reports', scopes: ['reports:read'] }, 'test');
    const config = await oidc.discovery(new URL(t.issuer), bot.clientId, {}, oidc.ClientSecretBasic(bot.secret),
      { execute: [oidc.allowInsecureRequests] });
    const other = (await oidc.clientCredentialsGrant(config, { scope: 'reports:read', resource: reports }))
      .access_token;
    expect(decodeJwt(other).aud).toBe(reports);
    expect(decodeProtectedHeader(other).typ).toBe('at+jwt');
    expect(await callAdminApi(other)).toMatchObject({ status: 401, body: { error: 'invalid_token' } });
  });
});
