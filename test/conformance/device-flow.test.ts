import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BrowserAgent, type PageResponse } from '../helpers/browser-agent.js';
import { alertText, createAccount, redirectUri, submitForm, submitLogin } from '../helpers/accounts-fixtures.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

let t: TestServer;
let user: { id: string; email: string; password: string };

async function nativeClient(deviceFlow: boolean) {
  const { client } = await t.container.clients.create({ name: 'TV app', type: 'native', redirectUris: [redirectUri], deviceFlow }, 'test');
  return oidc.discovery(new URL(t.issuer), client.clientId, { token_endpoint_auth_method: 'none' }, oidc.None(), { execute: [oidc.allowInsecureRequests] });
}

/** Follows redirects and approves consent pages until a page that is neither. */
async function settle(agent: BrowserAgent, posted: PageResponse): Promise<PageResponse> {
  expect(posted.status, posted.html.slice(0, 300)).toBe(303);
  let page = await agent.follow(posted.location!);
  for (let step = 0; step < 3 && page.html.includes('/confirm"'); step++) {
    page = await agent.follow((await submitForm(agent, page, '/confirm', {})).location!);
  }
  return page;
}

beforeAll(async () => {
  t = await startTestServer();
  user = await createAccount(t);
});
afterAll(() => t?.close());

describe('device authorization grant (RFC 8628)', () => {
  it('signs a device in through the hosted code page and issues tokens to the polling client', async () => {
    const config = await nativeClient(true);
    expect(config.serverMetadata().device_authorization_endpoint).toBe(`${t.issuer}/device/auth`);
    const device = await oidc.initiateDeviceAuthorization(config, { scope: 'openid email' });
    expect(device.user_code).toMatch(/^[B-DF-HJ-NP-TV-XZ]{4}-[B-DF-HJ-NP-TV-XZ]{4}$/);

    const agent = new BrowserAgent();
    const input = await agent.request(device.verification_uri);
    expect(input.status).toBe(200);
    expect(input.html).toContain('Enter the code shown on your device.');
    const confirm = await submitForm(agent, input, '/device', { user_code: device.user_code });
    expect(confirm.status).toBe(200);
    expect(confirm.html).toContain(device.user_code);
    expect(confirm.html).toContain('TV app');
    const login = await agent.follow((await submitForm(agent, confirm, '/device', {})).location!);
    const done = await settle(agent, await submitLogin(agent, login, user));
    expect(done.status).toBe(200);
    expect(done.html).toContain('You are signed in to TV app on your device.');

    const tokens = await oidc.pollDeviceAuthorizationGrant(config, device);
    expect(tokens.claims()!.sub).toBe(user.id);
    expect(await oidc.fetchUserInfo(config, tokens.access_token, user.id)).toMatchObject({ email: user.email });
  }, 20_000);

  it('shows the code page again with a message for a wrong code', async () => {
    const agent = new BrowserAgent();
    const input = await agent.request(new URL('/device', t.issuer));
    const wrong = await submitForm(agent, input, '/device', { user_code: 'BCDF-GHJK' });
    expect(wrong.status).toBe(400);
    expect(alertText(wrong.html)).toBe('That code is not valid or has expired. Check your device and try again.');
  });

  it('refuses the grant to a client registered without --device-flow', async () => {
    const config = await nativeClient(false);
    const failure = await oidc.initiateDeviceAuthorization(config, { scope: 'openid' }).catch((e: unknown) => e as { error?: string; error_description?: string });
    expect(failure).toMatchObject({ error: 'invalid_request', error_description: 'urn:ietf:params:oauth:grant-type:device_code is not allowed for this client' });
  });

  it('lets only native clients use the device flow', async () => {
    await expect(t.container.clients.create({ name: 'SPA', type: 'spa', redirectUris: [redirectUri], deviceFlow: true }, 'test'))
      .rejects.toMatchObject({ code: 'invalid_client_settings' });
  });
});
