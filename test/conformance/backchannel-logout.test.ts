import http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as oidc from 'openid-client';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BrowserAgent } from '../helpers/browser-agent.js';
import {
  auditEvents, createAccount, linkIn, mailTo, redirectUri, signInForTokens, startAccountsServer, strongPassword, submitForm, type AccountsServer,
} from '../helpers/accounts-fixtures.js';

const logoutEvent = 'http://schemas.openid.net/event/backchannel-logout';

/** A relying party's back-channel logout endpoint: keeps every logout_token it is sent. */
async function startLogoutReceiver(status = 200) {
  const tokens: string[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => { body += chunk; });
    req.on('end', () => {
      const token = new URLSearchParams(body).get('logout_token');
      if (req.method === 'POST' && req.headers['content-type'] === 'application/x-www-form-urlencoded' && token) tokens.push(token);
      res.writeHead(status, { 'cache-control': 'no-store' }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    uri: `http://127.0.0.1:${(server.address() as AddressInfo).port}/backchannel-logout`,
    tokens,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

type Receiver = Awaited<ReturnType<typeof startLogoutReceiver>>;

let s: AccountsServer;
let rp: Receiver;
let broken: Receiver;

async function relyingParty(backchannelLogoutUri: string) {
  const { client, secret } = await s.t.container.clients.create({ name: 'Logout RP', type: 'web', redirectUris: [redirectUri], backchannelLogoutUri }, 'test');
  const config = await oidc.discovery(new URL(s.t.issuer), client.clientId, {}, oidc.ClientSecretBasic(secret!), { execute: [oidc.allowInsecureRequests] });
  return { clientId: client.clientId, config };
}

/** Verifies a logout token as an RP must (Back-Channel Logout 1.0 §2.6) and returns its claims. */
async function verifyLogoutToken(token: string, clientId: string) {
  const { payload, protectedHeader } = await jwtVerify(token, createRemoteJWKSet(new URL('/jwks', s.t.issuer)), { issuer: s.t.issuer, audience: clientId, typ: 'logout+jwt' });
  expect(protectedHeader.typ).toBe('logout+jwt');
  expect(payload.events).toEqual({ [logoutEvent]: {} });
  expect(payload).not.toHaveProperty('nonce');
  expect(payload.jti).toEqual(expect.any(String));
  return payload;
}

beforeAll(async () => {
  s = await startAccountsServer();
  rp = await startLogoutReceiver();
  broken = await startLogoutReceiver(500);
});
afterAll(async () => {
  await rp?.close();
  await broken?.close();
  await s?.close();
});

describe('back-channel logout', () => {
  it('advertises back-channel logout with sessions', async () => {
    const meta = await (await fetch(new URL('/.well-known/openid-configuration', s.t.issuer))).json() as Record<string, unknown>;
    expect(meta).toMatchObject({ backchannel_logout_supported: true, backchannel_logout_session_supported: true });
  });

  it('posts a logout token to the RP on RP-initiated logout', async () => {
    const user = await createAccount(s.t);
    const { clientId, config } = await relyingParty(rp.uri);
    const agent = new BrowserAgent();
    const tokens = await signInForTokens(agent, config, user);
    const sid = tokens.claims()!.sid;
    expect(sid).toEqual(expect.any(String));

    const page = await agent.request(oidc.buildEndSessionUrl(config, { id_token_hint: tokens.id_token! }));
    expect(page.status).toBe(200);
    const before = rp.tokens.length;
    const done = await submitForm(agent, page, '/session/end/confirm', { logout: 'yes' });
    expect(done.status).toBe(303);
    expect(rp.tokens.length).toBe(before + 1);

    const claims = await verifyLogoutToken(rp.tokens.at(-1)!, clientId);
    expect(claims).toMatchObject({ sub: user.id, sid });
    await expect.poll(async () => (await auditEvents(s.t, user.id)).filter((e) => e.type === 'logout.backchannel_sent' && e.client_id === clientId)).toHaveLength(1);
    await expect.poll(async () => (await auditEvents(s.t, user.id)).filter((e) => e.type === 'session.ended')).toHaveLength(1);
  });

  it('posts a logout token to each RP of every session a password reset ends', async () => {
    const user = await createAccount(s.t);
    const { clientId, config } = await relyingParty(rp.uri);
    const tokens = await signInForTokens(new BrowserAgent(), config, user);

    const agent = new BrowserAgent();
    const form = await agent.request(new URL('/forgot-password', s.t.issuer));
    expect((await submitForm(agent, form, '/forgot-password', { email: user.email })).status).toBe(200);
    const link = linkIn(s.mail, await mailTo(s.mail, user.email, /Reset your .* password/), '/reset-password');
    const page = await agent.request(link);
    const before = rp.tokens.length;
    const done = await submitForm(agent, page, '/reset-password', { password: strongPassword() });
    expect(done.status).toBeLessThan(400);

    const mine = rp.tokens.slice(before).filter((token) => decodeJwt(token).aud === clientId);
    expect(mine).toHaveLength(1);
    const claims = await verifyLogoutToken(mine[0]!, clientId);
    expect(claims).toMatchObject({ sub: user.id, sid: tokens.claims()!.sid });
    const events = await auditEvents(s.t, user.id);
    expect(events.filter((e) => e.type === 'logout.backchannel_sent' && e.client_id === clientId)).toHaveLength(1);
  });

  it('still ends the sessions when an RP fails, and audits the failure', async () => {
    const user = await createAccount(s.t);
    const { clientId, config } = await relyingParty(broken.uri);
    const tokens = await signInForTokens(new BrowserAgent(), config, { ...user, email: user.email }, { scope: 'openid offline_access', prompt: 'consent' });
    const result = await s.t.container.sessions.revokeAccount(user.id);
    expect(result.sessions).toBe(1);
    expect(broken.tokens.length).toBeGreaterThan(0);
    await expect(oidc.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    const failed = (await auditEvents(s.t, user.id)).filter((e) => e.type === 'logout.backchannel_failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ client_id: clientId, details: { reason: expect.stringMatching(/500/) } });
  });

  it('requires an https back-channel logout URI except on loopback', async () => {
    const create = (backchannelLogoutUri: string) => s.t.container.clients.create({ name: 'RP', type: 'web', redirectUris: [redirectUri], backchannelLogoutUri }, 'test');
    await expect(create('http://rp.example.com/logout')).rejects.toMatchObject({ code: 'invalid_backchannel_logout_uri' });
    await expect(create('https://rp.example.com/logout#x')).rejects.toMatchObject({ code: 'invalid_backchannel_logout_uri' });
    const ok = await create('https://rp.example.com/logout');
    expect(await s.t.container.clients.oidcMetadata(ok.client.clientId)).toMatchObject({
      backchannel_logout_uri: 'https://rp.example.com/logout', backchannel_logout_session_required: true,
    });
  });
});
