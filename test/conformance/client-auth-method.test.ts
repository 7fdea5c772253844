import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redirectUri } from '../helpers/accounts-fixtures.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

let t: TestServer;
let metadata: oidc.ServerMetadata;
let web: { clientId: string; secret: string };
let service: { clientId: string; secret: string };

const basic = (clientId: string, secret: string) =>
  `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`;

async function post(endpoint: string | undefined, form: Record<string, string>, authorization?: string) {
  const response = await fetch(endpoint!, {
    method: 'POST', body: new URLSearchParams(form),
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
      ...(authorization ? { authorization } : {}),
    },
  });
  return { status: response.status, body: await response.json() as Record<string, unknown> };
}

const mismatch = { error: 'invalid_client', error_description: 'client authentication failed' };

beforeAll(async () => {
  t = await startTestServer();
  const w = await t.container.clients.create({ name: 'Web app', type: 'web', redirectUris: [redirectUri] }, 'test');
  web = { clientId: w.client.clientId, secret: w.secret! };
  const s = await t.container.clients.create({ name: 'Worker', type: 'service' }, 'test');
  service = { clientId: s.client.clientId, secret: s.secret! };
  metadata = (await oidc.discovery(
    new URL(t.issuer), web.clientId, {}, oidc.ClientSecretBasic(web.secret), { execute: [oidc.allowInsecureRequests] },
  )).serverMetadata();
});
afterAll(() => t?.close());

describe('the registered token_endpoint_auth_method is the only one accepted', () => {
  it('advertises only the methods clients can register', () => {
    expect(metadata.token_endpoint_auth_methods_supported).toEqual(['client_secret_basic', 'none']);
  });

  it('accepts client_secret_basic for a client registered with it', async () => {
    const answer = await post(
      metadata.token_endpoint, { grant_type: 'client_credentials' }, basic(service.clientId, service.secret));
    expect(answer.status).toBe(200);
    expect(answer.body.access_token).toBeTruthy();
  });

  it('refuses client_secret_post from a client_secret_basic client at every endpoint that authenticates clients',
    async () => {
    const post_ = (clientId: string, secret: string) => ({ client_id: clientId, client_secret: secret });
    const cases: Array<[string, string | undefined, Record<string, string>]> = [
      ['token', metadata.token_endpoint, {
        grant_type: 'client_credentials', ...post_(service.clientId, service.secret),
      }],
      ['introspection', metadata.introspection_endpoint, { token: 'x', ...post_(web.clientId, web.secret) }],
      ['revocation', metadata.revocation_endpoint, { token: 'x', ...post_(web.clientId, web.secret) }],
      ['PAR', metadata.pushed_authorization_request_endpoint, {
        response_type: 'code', redirect_uri: redirectUri, scope: 'openid',
        code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
        code_challenge_method: 'S256', ...post_(web.clientId, web.secret),
      }],
      ['device authorization', metadata.device_authorization_endpoint, {
        scope: 'openid', ...post_(web.clientId, web.secret),
      }],
    ];
    for (const [name, endpoint, form] of cases) {
      const answer = await post(endpoint, form);
      expect(answer, name).toMatchObject({ status: 401, body: mismatch });
    }
  });

  it('refuses a client registered for none that sends a secret, and a basic client that sends none', async () => {
    const { client } = await t.container.clients.create(
      { name: 'SPA', type: 'spa', redirectUris: [redirectUri] }, 'test');
    expect(await post(
      metadata.token_endpoint,
      { grant_type: 'authorization_code', code: 'x', redirect_uri: redirectUri },
      basic(client.clientId, 'guess'),
    ))
      .toMatchObject({ status: 401, body: mismatch });
    expect(await post(metadata.token_endpoint, { grant_type: 'client_credentials', client_id: service.clientId }))
      .toMatchObject({ status: 401, body: mismatch });
  });
});
