import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminApiIdentifier } from '../../src/admin/api/admin-api.js';
import { personalKeyCreationLimit } from '../../src/account/api-keys-router.js';
import { alertText, createAccount, signInToAccount } from '../helpers/accounts-fixtures.js';
import { BrowserAgent, formValue, type PageResponse } from '../helpers/browser-agent.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

// An rbac API from config, and an API registered at run time (no rbac).
const orders = 'https://orders.example.test';
const notes = 'https://notes.example.test';

let t: TestServer;
let resourceServer: { clientId: string; secret: string };

beforeAll(async () => {
  t = await startTestServer({
    captcha: { provider: 'none' }, apiKeys: { personal: true }, introspection: { resourceServers: ['orders-api'] },
    apis: [{ identifier: orders, name: 'Orders', scopes: ['orders:read', 'orders:write'], rbac: true }],
  });
  await t.container.apis.create({ identifier: notes, name: 'Notes', scopes: ['notes:read'] }, 'test');
  await t.container.rbac.create('clerk', undefined, 'test');
  await t.container.rbac.grant('clerk', orders, 'orders:read', 'test');
  const { client, secret } = await t.container.clients.create({ name: 'Orders API', type: 'service' }, 'test');
  // A known id, listed in introspection.resourceServers: only resource servers may introspect API keys.
  await t.container.dataSource.query('UPDATE clients SET client_id = $1 WHERE client_id = $2', [
    'orders-api',
    client.clientId,
  ]);
  resourceServer = { clientId: 'orders-api', secret: secret! };
});
afterAll(() => t?.close());

/** POST /api-keys/introspect as the resource server would. */
async function introspect(token: string): Promise<Record<string, unknown>> {
  const response = await fetch(new URL('/api-keys/introspect', t.issuer), {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${resourceServer.clientId}:${resourceServer.secret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token }).toString(),
  });
  expect(response.status).toBe(200);
  return (await response.json()) as Record<string, unknown>;
}

/** A person signed in to /account/api-keys, with roles. */
async function signedInPerson(roles: string[] = ['clerk']) {
  const person = await createAccount(t);
  for (const role of roles) await t.container.rbac.assign(role, { account: person.id }, 'test');
  const agent = new BrowserAgent();
  const page = await signInToAccount(agent, t.issuer, person, '/account/api-keys');
  expect(page.status, page.html.slice(0, 300)).toBe(200);
  return { ...person, agent, page };
}

/** Posts to a path under /account/api-keys with the page's CSRF token (unless `csrf` is given). */
function post(agent: BrowserAgent, page: PageResponse, path: string, fields: Record<string, string> = {}, csrf = formValue(page.html, 'csrf') ?? '') {
  return agent.request(new URL(path, t.issuer), { form: { csrf, ...fields } });
}

/** The scope checkbox field for `scope` of `api` on the page, as the browser would send it ticked. */
function scopeField(html: string, api: string, scope: string): Record<string, string> {
  const value = `${api} ${scope}`;
  const name = new RegExp(`name="(scope\\.\\d+)" value="${value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"`).exec(html)?.[1];
  if (!name) throw new Error(`no checkbox for ${value}`);
  return { [name]: value };
}

const tokenOn = (html: string) => /id="api-key" value="(pcl_[^"]+)"/.exec(html)?.[1];

describe('personal API keys page', () => {
  it('creates a key shown once, which introspects as active with the person as subject', async () => {
    const person = await signedInPerson();
    expect(person.page.html).toContain('href="/account/api-keys"');
    const created = await post(person.agent, person.page, '/account/api-keys', { name: 'laptop script', api: orders, ...scopeField(person.page.html, orders, 'orders:read'), expiresInDays: '30' });
    expect(created.status, created.html.slice(0, 500)).toBe(200);
    const token = tokenOn(created.html)!;
    expect(token).toMatch(/^pcl_[0-9a-f]{20}_/);

    const answer = await introspect(token);
    expect(answer).toMatchObject({ active: true, sub: person.id, scope: 'orders:read', aud: orders, client_id: null, token_type: 'api_key' });
    expect(Number(answer.exp) - Date.now() / 1000).toBeGreaterThan(29 * 86_400);

    // Listed afterwards without its secret; the creation is audited as the person.
    const list = await person.agent.request(new URL('/account/api-keys', t.issuer));
    expect(list.html).toContain('laptop script');
    expect(list.html).not.toContain(token.split('_')[2]);
    const [key] = await t.container.apiKeys.list({ accountId: person.id });
    const events = await t.container.dataSource.query(`SELECT actor FROM audit_events WHERE type = 'api_key.created' AND details->>'apiKeyId' = $1`, [key!.id]);
    expect(events).toEqual([{ actor: `account:${person.id}` }]);
  });

  it('binds a key to an API registered at run time, and to none', async () => {
    const person = await signedInPerson([]);
    const bound = await post(person.agent, person.page, '/account/api-keys', { name: 'notes', api: notes, ...scopeField(person.page.html, notes, 'notes:read') });
    expect(await introspect(tokenOn(bound.html)!)).toMatchObject({ active: true, scope: 'notes:read', aud: notes });
    const unbound = await post(person.agent, person.page, '/account/api-keys', { name: 'plain', api: '' });
    const answer = await introspect(tokenOn(unbound.html)!);
    expect(answer).toMatchObject({ active: true, sub: person.id, scope: '' });
    expect(answer).not.toHaveProperty('aud');
  });

  it('offers only the scopes the person\'s roles allow on an rbac API, and refuses others', async () => {
    const person = await signedInPerson();
    expect(person.page.html).toContain(`value="${orders} orders:read"`);
    expect(person.page.html).not.toContain(`value="${orders} orders:write"`);
    const refused = await post(person.agent, person.page, '/account/api-keys', { name: 'greedy', api: orders, 'scope.0': `${orders} orders:write` });
    expect(refused.status).toBe(400);
    expect(refused.html).toContain('Choose only scopes listed under the API you picked.');
    // A scope ticked under another API than the one chosen is refused too.
    const mixed = await post(person.agent, person.page, '/account/api-keys', { name: 'mixed', api: notes, ...scopeField(person.page.html, orders, 'orders:read') });
    expect(mixed.status).toBe(400);
    expect(await t.container.apiKeys.list({ accountId: person.id })).toEqual([]);
  });

  it('never offers or accepts the admin API, even to an admin', async () => {
    await t.container.rbac.create('admin', undefined, 'test').catch(() => undefined);
    const person = await signedInPerson(['admin']);
    const admin = adminApiIdentifier(t.issuer);
    expect(person.page.html).not.toContain(admin);
    const refused = await post(person.agent, person.page, '/account/api-keys', { name: 'root', api: admin, 'scope.0': `${admin} admin:write` });
    expect(refused.status).toBe(400);
    expect(refused.html).toContain('Choose one of the listed APIs.');
  });

  it('refuses a bad name or expiry with the field named', async () => {
    const person = await signedInPerson();
    const noName = await post(person.agent, person.page, '/account/api-keys', { name: '  ' });
    expect(noName.status).toBe(400);
    expect(noName.html).toContain('id="name-error"');
    const badExpiry = await post(person.agent, person.page, '/account/api-keys', { name: 'x', expiresInDays: '0' });
    expect(badExpiry.status).toBe(400);
    expect(badExpiry.html).toContain('id="expiresInDays-error"');
  });

  it('revokes a key: introspection answers inactive and the list says so', async () => {
    const person = await signedInPerson();
    const created = await post(person.agent, person.page, '/account/api-keys', { name: 'to revoke' });
    const token = tokenOn(created.html)!;
    const id = token.split('_')[1]!;
    const revoked = await post(person.agent, person.page, `/account/api-keys/${id}/revoke`);
    expect(revoked.status).toBe(303);
    expect(revoked.location?.pathname).toBe('/account/api-keys');
    expect(await introspect(token)).toEqual({ active: false });
    const list = await person.agent.request(revoked.location!);
    expect(list.html).toContain('Revoked');
    expect(list.html).not.toContain(`/account/api-keys/${id}/revoke`);
  });

  it('rotates a key: the new value is shown once, the old one stops working', async () => {
    const person = await signedInPerson();
    const created = await post(person.agent, person.page, '/account/api-keys', { name: 'to rotate' });
    const old = tokenOn(created.html)!;
    const rotated = await post(person.agent, person.page, `/account/api-keys/${old.split('_')[1]}/rotate`);
    expect(rotated.status).toBe(200);
    const fresh = tokenOn(rotated.html)!;
    expect(fresh.split('_')[1]).toBe(old.split('_')[1]);
    expect(fresh).not.toBe(old);
    expect(await introspect(old)).toEqual({ active: false });
    expect(await introspect(fresh)).toMatchObject({ active: true, sub: person.id });
  });

  it('answers 404 for another person\'s key or a service key, and leaves them alone', async () => {
    const person = await signedInPerson();
    const stranger = await createAccount(t);
    const theirs = await t.container.apiKeys.create({ owner: { type: 'account', accountId: stranger.id }, name: 'theirs' }, 'test');
    const service = await t.container.apiKeys.create({ owner: { type: 'service', clientId: resourceServer.clientId }, name: 'service' }, 'test');
    for (const key of [theirs, service]) {
      for (const action of ['revoke', 'rotate']) {
        const answer = await post(person.agent, person.page, `/account/api-keys/${key.key.id}/${action}`);
        expect(answer.status).toBe(404);
        expect(alertText(answer.html)).toBe('There is no such API key.');
      }
      expect(await introspect(key.token)).toMatchObject({ active: true });
    }
    expect((await post(person.agent, person.page, '/account/api-keys/not-a-key/revoke')).status).toBe(404);
    const list = await person.agent.request(new URL('/account/api-keys', t.issuer));
    expect(list.html).not.toContain(theirs.key.id);
    expect(list.html).not.toContain(service.key.id);
  });

  it('requires the CSRF token on every form', async () => {
    const person = await signedInPerson();
    const created = await post(person.agent, person.page, '/account/api-keys', { name: 'kept' });
    const id = tokenOn(created.html)!.split('_')[1]!;
    for (const path of ['/account/api-keys', `/account/api-keys/${id}/revoke`, `/account/api-keys/${id}/rotate`]) {
      expect((await post(person.agent, person.page, path, { name: 'forged' }, 'forged')).status).toBe(403);
    }
    const keys = await t.container.apiKeys.list({ accountId: person.id });
    expect(keys.map((key) => [key.name, key.revokedAt])).toEqual([['kept', null]]);
  });

  it('sends a signed-out visitor to sign in, and refuses a signed-out POST', async () => {
    const agent = new BrowserAgent();
    const page = await agent.request(new URL('/account/api-keys', t.issuer));
    expect(page.status).toBe(302);
    expect(page.location?.pathname).toBe('/auth');
    expect((await agent.request(new URL('/account/api-keys', t.issuer), { form: { name: 'x' } })).status).toBe(401);
  });

  it(`limits new keys to ${personalKeyCreationLimit.points} an hour per person`, async () => {
    const person = await signedInPerson([]);
    for (let n = 0; n < personalKeyCreationLimit.points; n++) {
      expect((await post(person.agent, person.page, '/account/api-keys', { name: `key ${n}` })).status).toBe(200);
    }
    const refused = await post(person.agent, person.page, '/account/api-keys', { name: 'one too many' });
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
  });
});

describe('with apiKeys.personal off', () => {
  let off: TestServer;
  beforeAll(async () => { off = await startTestServer({ captcha: { provider: 'none' }, apiKeys: { personal: false } }); });
  afterAll(() => off?.close());

  it('has no page (404), signed in or not, and no navigation entry', async () => {
    expect((await fetch(new URL('/account/api-keys', off.issuer), { redirect: 'manual' })).status).toBe(404);
    const person = await createAccount(off);
    const agent = new BrowserAgent();
    const account = await signInToAccount(agent, off.issuer, person, '/account');
    expect(account.status).toBe(200);
    expect(account.html).not.toContain('/account/api-keys');
    expect((await agent.request(new URL('/account/api-keys', off.issuer))).status).toBe(404);
    expect((await agent.request(new URL('/account/api-keys', off.issuer), { form: { csrf: formValue(account.html, 'csrf') ?? '', name: 'x' } })).status).toBe(404);
  });
});
