import * as oidc from 'openid-client';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiKeyTokenType } from '../../src/api-keys/api-key-format.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

const orders = 'https://orders.example.test';
const payroll = 'https://payroll.example.test';
const tokenExchange = 'urn:ietf:params:oauth:grant-type:token-exchange';
const resourceServerId = 'orders-resource-server';

let t: TestServer;
let rs: { clientId: string; secret: string };

const basic = (clientId: string, secret: string) =>
  `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`;

async function introspect(token: string, client: { clientId: string; secret: string }) {
  const response = await fetch(new URL('/api-keys/introspect', t.issuer), {
    method: 'POST', body: new URLSearchParams({ token }),
    headers: {
      authorization: basic(client.clientId, client.secret),
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
    },
  });
  return { status: response.status, body: await response.json() as Record<string, unknown> };
}

async function serviceClient(name: string, allowAdminApi = false) {
  const { client, secret } = await t.container.clients.create({ name, type: 'service', allowAdminApi }, 'test');
  const config = await oidc.discovery(
    new URL(t.issuer), client.clientId, {}, oidc.ClientSecretBasic(secret!), { execute: [oidc.allowInsecureRequests] });
  return { clientId: client.clientId, secret: secret!, config };
}

const exchange = (config: oidc.Configuration, apiKey: string, extra: Record<string, string> = {}) =>
  oidc.genericGrantRequest(config, tokenExchange, {
    subject_token: apiKey, subject_token_type: apiKeyTokenType, ...extra,
  });

const failureOf = (promise: Promise<unknown>) =>
  promise.then(() => undefined, (error: unknown) => error as { error?: string; error_description?: string });

beforeAll(async () => {
  t = await startTestServer({
    apis: [
      { identifier: orders, scopes: ['orders:read', 'orders:write'], rbac: true },
      { identifier: payroll, scopes: ['payroll:read'], privileged: true },
    ],
    introspection: { resourceServers: [resourceServerId] },
  });
  const registered = await t.container.clients.create({ name: 'Orders API', type: 'service' }, 'test');
  await t.container.dataSource.query(
    'UPDATE clients SET client_id = $1 WHERE client_id = $2', [resourceServerId, registered.client.clientId]);
  rs = { clientId: resourceServerId, secret: registered.secret! };
  await t.container.rbac.create('reader', undefined, 'test');
  await t.container.rbac.grant('reader', orders, 'orders:read', 'test');
  await t.container.rbac.create('writer', undefined, 'test');
  await t.container.rbac.grant('writer', orders, 'orders:write', 'test');
});
afterAll(() => t?.close());

describe('POST /api-keys/introspect is for resource servers only', () => {
  it('answers a client listed in introspection.resourceServers', async () => {
    const owner = await serviceClient('Owner');
    const { token } = await t.container.apiKeys.create(
      { owner: { type: 'service', clientId: owner.clientId }, name: 'k', scopes: [] }, 'test');
    expect(await introspect(token, rs))
      .toMatchObject({ status: 200, body: { active: true, client_id: owner.clientId } });
  });

  it('refuses any other confidential client with 403, telling nothing about the key', async () => {
    const other = await serviceClient('Curious');
    const { token } = await t.container.apiKeys.create(
      { owner: { type: 'service', clientId: other.clientId }, name: 'mine', scopes: [] }, 'test');
    const answer = await introspect(token, other);
    expect(answer).toEqual({ status: 403, body: {
      error: 'unauthorized_client',
      error_description: 'only resource servers (config introspection.resourceServers) may introspect API keys',
    } });
  });
});

describe('token exchange re-evaluates the key owner\'s roles', () => {
  it('gives reduced scopes once the owner lost a role, and refuses a lost scope asked for by name', async () => {
    const worker = await serviceClient('Worker');
    for (const role of ['reader', 'writer']) await t.container.rbac.assign(role, { client: worker.clientId }, 'test');
    const { token } = await t.container.apiKeys.create({
      owner: { type: 'service', clientId: worker.clientId }, name: 'rw',
      scopes: ['orders:read', 'orders:write'], api: orders,
    }, 'test');
    expect((await exchange(worker.config, token)).scope).toBe('orders:read orders:write');

    await t.container.rbac.unassign('writer', { client: worker.clientId }, 'test');
    const reduced = await exchange(worker.config, token);
    expect(reduced.scope).toBe('orders:read');
    expect(decodeJwt(reduced.access_token))
      .toMatchObject({ scope: 'orders:read', roles: ['reader'], permissions: ['orders:read'] });
    expect(await failureOf(exchange(worker.config, token, { scope: 'orders:write' }))).toMatchObject({
      error: 'invalid_scope', error_description: 'scope no longer allowed by the API key owner\'s roles',
    });
  });

  it('exchanges a key for a privileged API only at a client allowed privileged APIs', async () => {
    const plain = await serviceClient('Plain worker');
    const { token } = await t.container.apiKeys.create({
      owner: { type: 'service', clientId: plain.clientId }, name: 'pay', scopes: ['payroll:read'], api: payroll,
    }, 'test');
    expect(await failureOf(exchange(plain.config, token))).toMatchObject({
      error: 'invalid_target',
      error_description: expect.stringMatching(
        new RegExp(`is a privileged API: client ${plain.clientId} is not allowed`)),
    });
    const listed = await serviceClient('Listed worker', true);
    expect((await exchange(listed.config, token)).scope).toBe('payroll:read');
  });
});
