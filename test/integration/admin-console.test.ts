/**
 * The admin console over HTTP, as a browser without JavaScript sees it: who gets in (sign-in,
 * admin role, a second factor in this session, else step-up), CSRF on every form, 303 after a
 * change, 400 with a message (and nothing saved) for bad input, secrets shown once, the audit actor.
 */
import { generate } from 'otplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localReturnPath } from '../../src/account/account-session.js';
import { BrowserAgent, formValue, type PageResponse } from '../helpers/browser-agent.js';
import {
  alertText, createAccount, expectSentToSignIn, fieldError, recoveryCodesOn, startAccountsServer, strongPassword, submitForm, submitLogin, totpKeyOn, uniqueEmail,
  type AccountsServer,
} from '../helpers/accounts-fixtures.js';
import { createConsoleAdmin, signInConsoleAdmin, type ConsoleAdmin } from '../helpers/admin-console-session.js';

let s: AccountsServer;

beforeAll(async () => {
  s = await startAccountsServer();
});
afterAll(() => s?.close());

const at = (path: string) => new URL(path, s.t.issuer);
const mfaAcr = 'urn:portcullis:acr:mfa';

/** An account holding the admin role with no second factor enrolled. */
async function createAdminWithoutFactor(label: string): Promise<{ email: string; password: string }> {
  const email = uniqueEmail(label);
  const password = strongPassword();
  await s.t.container.accounts.create({ email, password, verified: true, roles: ['admin'] }, 'test');
  return { email, password };
}

let admin: ConsoleAdmin;
let agent: BrowserAgent;
let overview: PageResponse;

beforeAll(async () => {
  admin = await createConsoleAdmin(s.t);
  ({ agent, page: overview } = await signInConsoleAdmin(s.t, admin));
});

const get = (path: string) => agent.request(at(path));
/** Posts a form found on `page` (CSRF token included) and returns the answer. */
const post = (page: PageResponse, action: string, fields: Record<string, string>) => submitForm(agent, page, action, fields);
const countClients = async () => (await s.t.container.clients.list()).length;
/** The page's text without the line-break hints (<wbr>) that long ids, secrets and URIs carry. */
const plain = (html: string) => html.replace(/<wbr>/g, '');
/** The one-time secret shown in the element with `id`, as a person copying it gets it. */
const shownOnce = (html: string, id: string) => new RegExp(`id="${id}"[^>]*>(.*?)</code>`, 's').exec(plain(html))?.[1];

describe('who gets in', () => {
  it('sends a signed-out visitor to the sign-in of the account client, then back to the console page asked for', async () => {
    const visitor = new BrowserAgent();
    const first = await visitor.request(at('/admin/clients'));
    expectSentToSignIn(first);
    const other = await createConsoleAdmin(s.t);
    const { page } = await signInConsoleAdmin(s.t, other, '/admin/clients');
    expect(page.html).toContain('<h1>Clients</h1>');
  });

  it('shows a 403 page to a signed-in person without the admin role', async () => {
    const user = await createAccount(s.t);
    const visitor = new BrowserAgent();
    const login = await visitor.follow(at('/admin'));
    const posted = await submitLogin(visitor, login, user);
    expect(posted.status).toBe(303);
    const page = await visitor.follow(posted.location!);
    expect(page.url.pathname).toBe('/admin');
    expect(page.status).toBe(403);
    expect(alertText(page.html)).toBe('This page is for administrators. Your account does not have the admin role.');
    // No step-up for them: a person without the role is never asked to set up a second factor.
    expect(page.html).not.toContain('two-step');
  });

  it('sends an admin whose session has no second factor through a step-up sign-in, then lets them in', async () => {
    const stepUpAdmin = await createAdminWithoutFactor('stepup');
    const visitor = new BrowserAgent();
    const login = await visitor.follow(at('/admin'));
    const posted = await submitLogin(visitor, login, stepUpAdmin);
    expect(posted.status).toBe(303);
    // Password only (no factor enrolled, none required): the console asks for more.
    let response = await visitor.request(posted.location!);
    while (response.location && response.location.pathname !== '/auth') response = await visitor.request(response.location);
    expect(response.location!.searchParams.get('acr_values')).toBe(mfaAcr);
    expect(response.location!.searchParams.get('client_id')).toBe('portcullis-account');
    const stepUp = await visitor.follow(response.location!);
    expect(stepUp.html).toContain('Set up two-step sign-in');
    const codes = await submitForm(visitor, stepUp, '/mfa/enrol', { code: await generate({ secret: totpKeyOn(stepUp.html) }) });
    expect(recoveryCodesOn(codes.html)).toHaveLength(10);
    const done = await submitForm(visitor, codes, '/mfa/done', {});
    expect(done.status).toBe(303);
    const console = await visitor.follow(done.location!);
    expect(console.url.pathname).toBe('/admin');
    expect(console.status).toBe(200);
    expect(console.html).toContain('<h1>Admin console</h1>');
  });

  it('refuses a POST from an admin session without a second factor with 401', async () => {
    const noFactorAdmin = await createAdminWithoutFactor('nofactor');
    const visitor = new BrowserAgent();
    const login = await visitor.follow(at('/account'));
    expect((await submitLogin(visitor, login, noFactorAdmin)).status).toBe(303);
    const page = await visitor.follow(at('/account'));
    const before = await countClients();
    const response = await visitor.request(at('/admin/clients'), { form: { csrf: /name="csrf" value="([^"]+)"/.exec(page.html)![1]!, name: 'Sneaky', type: 'spa', redirectUris: 'https://app.example/cb' } });
    expect(response.status).toBe(401);
    expect(await countClients()).toBe(before);
  });

  it('never answers for the REST API under /admin/api', async () => {
    const api = await agent.request(at('/admin/api/v1/clients'));
    expect(api.status).toBe(401);
    expect(api.headers.get('www-authenticate')).toMatch(/^Bearer/);
    // Even an address the REST API doesn't know is not the console's: no sign-in, no page.
    const other = await new BrowserAgent().request(at('/admin/api/v2/anything'));
    expect(other.status).toBe(404);
    expect(other.location).toBeUndefined();
  });

  it('returns after sign-in only to local pages of /account or /admin', () => {
    for (const good of ['/admin', '/admin/clients/abc', '/account', '/account/security', '/admin/audit?type=x']) expect(localReturnPath(good)).toBe(good);
    for (const bad of ['//evil.example', '/\\evil.example', 'https://evil.example/admin', '/adminx', '/accounts', '/admin/../evil', '/admin/%2e%2e/evil',
      '/admin//evil.example', '/admin/%2F%2Fevil', '/interaction/x', '', undefined]) expect(localReturnPath(bad)).toBeUndefined();
  });
});

describe('every page', () => {
  it('renders in the layout with the navigation, a strict CSP and no-store', async () => {
    expect(overview.html).toContain('<h1>Admin console</h1>');
    const { client } = await s.t.container.clients.create({ name: 'Page app', type: 'spa', redirectUris: ['https://spa.example/cb'] }, 'test');
    await s.t.container.rbac.create('editor', 'Edits things', 'test');
    const { key } = await s.t.container.apiKeys.create({ owner: { type: 'account', accountId: admin.id }, name: 'Personal' }, 'test');
    const apiPath = `/admin/apis/show?${new URLSearchParams({ identifier: `${s.t.issuer}/admin/api` })}`;
    const pages: Array<[string, string]> = [
      ['/admin', 'Admin console'], ['/admin/clients', 'Clients'], ['/admin/clients/new', 'Register a client'], [`/admin/clients/${client.clientId}`, 'Page app'],
      [`/admin/clients/${client.clientId}/delete`, 'Delete the client'], ['/admin/accounts', 'Accounts'], ['/admin/accounts/new', 'Create an account'],
      [`/admin/accounts/${admin.id}`, admin.email], ['/admin/roles', 'Roles'], ['/admin/roles/editor', 'Role editor'], ['/admin/roles/editor/delete', 'Delete the role'],
      ['/admin/apis', 'APIs'], ['/admin/apis/new', 'Register an API'], [apiPath, 'Portcullis admin API'], ['/admin/api-keys', 'API keys'],
      [`/admin/api-keys/${key.id}`, 'Personal'], ['/admin/keys', 'Signing keys'], ['/admin/audit', 'Audit log'],
    ];
    for (const [path, heading] of pages) {
      const page = await get(path);
      expect(page.status, `${path}: ${page.html.slice(0, 300)}`).toBe(200);
      expect(page.html, path).toContain(`<h1>${heading}</h1>`);
      expect(page.html, path).toContain('aria-label="Admin console"');
      expect(page.headers.get('cache-control'), path).toBe('no-store');
      expect(page.headers.get('content-security-policy'), path).toMatch(/script-src 'self' 'nonce-[^']+'/);
      expect(page.html, path).not.toMatch(/<script(?![^>]*nonce=)|style=/);
    }
    expect((await get('/admin/clients/no-such-client')).status).toBe(404);
    expect((await get('/admin/accounts/not-a-uuid')).status).toBe(404);
  });
});

describe('CSRF', () => {
  it('refuses a form without the token, or with another browser\'s, and changes nothing', async () => {
    const before = await countClients();
    const fields = { name: 'Forged', type: 'spa', redirectUris: 'https://forged.example/cb' };
    const missing = await agent.request(at('/admin/clients'), { form: fields });
    expect(missing.status).toBe(403);
    const stranger = new BrowserAgent();
    const strangerPage = await stranger.request(at('/forgot-password'));
    const foreign = await agent.request(at('/admin/clients'), { form: { ...fields, csrf: /name="csrf" value="([^"]+)"/.exec(strangerPage.html)![1]! } });
    expect(foreign.status).toBe(403);
    expect(await countClients()).toBe(before);
  });
});

describe('clients', () => {
  it('registers a web client and shows its secret once, on the page of its settings', async () => {
    const form = await get('/admin/clients/new');
    const posted = await post(form, '/admin/clients', {
      name: 'Billing', type: 'web', redirectUris: 'https://billing.example/callback\n\nhttp://localhost:3000/cb', postLogoutRedirectUris: 'https://billing.example/', firstParty: 'on',
    });
    expect(posted.status).toBe(303);
    const clientId = posted.location!.pathname.split('/').pop()!;
    expect(posted.location!.href).not.toContain('secret');
    const page = await agent.request(posted.location!);
    const secret = shownOnce(page.html, 'client-secret');
    expect(secret).toMatch(/^[\w-]{43}$/);
    expect(page.html).toContain('it is shown only this once');
    expect(await s.t.container.clients.authenticate(clientId, secret!)).toBeDefined();
    const stored = await s.t.container.clients.show(clientId);
    expect(stored).toMatchObject({ name: 'Billing', type: 'web', firstParty: true, redirectUris: ['https://billing.example/callback', 'http://localhost:3000/cb'], postLogoutRedirectUris: ['https://billing.example/'] });
    // Shown once: the next visit has no secret on it.
    const again = await get(`/admin/clients/${clientId}`);
    expect(again.status).toBe(200);
    expect(again.html).not.toContain('id="client-secret"');
    const [event] = await s.t.container.dataSource.query(`SELECT actor, details FROM audit_events WHERE type = 'client.created' AND client_id = $1`, [clientId]);
    expect(event.actor).toBe(`admin:${admin.id}`);
    expect(JSON.stringify(event.details)).not.toContain(secret!);
  });

  it('answers 400 naming the problem, keeps what was typed, and saves nothing for bad input', async () => {
    const before = await countClients();
    const form = await get('/admin/clients/new');
    const badUri = await post(form, '/admin/clients', { name: 'Evil', type: 'web', redirectUris: 'http://evil.example/cb' });
    expect(badUri.status).toBe(400);
    expect(alertText(badUri.html)).toBe('Correct the fields marked below, then try again.');
    expect(fieldError(badUri.html, 'redirectUris')).toBe('http://evil.example/cb is not allowed: use an absolute https URI without a fragment (http only for localhost).');
    expect(badUri.html).toMatch(/<textarea id="redirectUris"[^>]*aria-describedby="redirectUris-error redirectUris-hint"[^>]*aria-invalid="true"/);
    expect(badUri.html).toContain('value="Evil"');
    const noName = await post(form, '/admin/clients', { name: ' ', type: 'spa', redirectUris: 'https://spa.example/cb' });
    expect(noName.status).toBe(400);
    expect(fieldError(noName.html, 'name')).toBe('Enter a name of at most 200 characters.');
    const noUris = await post(form, '/admin/clients', { name: 'Nothing', type: 'native' });
    expect(fieldError(noUris.html, 'redirectUris')).toBe('Enter at least one redirect URI.');
    const serviceUris = await post(form, '/admin/clients', { name: 'Svc', type: 'service', redirectUris: 'https://svc.example/cb' });
    expect(fieldError(serviceUris.html, 'redirectUris')).toBe('Services have no redirect URIs: leave this empty.');
    const noType = await post(form, '/admin/clients', { name: 'Typeless', redirectUris: 'https://x.example/cb' });
    expect(fieldError(noType.html, 'type')).toBe('Choose a type.');
    expect(await countClients()).toBe(before);
  });

  it('changes settings, rotates the secret (shown once), and deletes after confirmation', async () => {
    const { client, secret: first } = await s.t.container.clients.create({ name: 'Reports', type: 'web', redirectUris: ['https://reports.example/cb'] }, 'test');
    const path = `/admin/clients/${client.clientId}`;
    const page = await get(path);
    const saved = await post(page, path, { name: 'Reports v2', redirectUris: 'https://reports.example/cb\nhttps://reports.example/cb2', postLogoutRedirectUris: '', requireMfa: 'on' });
    expect(saved.status).toBe(303);
    const after = await agent.request(saved.location!);
    expect(after.html).toContain('Your changes were saved.');
    expect(await s.t.container.clients.show(client.clientId)).toMatchObject({ name: 'Reports v2', requireMfa: true, firstParty: false, redirectUris: ['https://reports.example/cb', 'https://reports.example/cb2'] });

    const badEdit = await post(page, path, { name: 'Reports v3', redirectUris: 'ftp://reports.example/cb' });
    expect(badEdit.status).toBe(400);
    expect((await s.t.container.clients.show(client.clientId)).name).toBe('Reports v2');

    const rotated = await post(page, `${path}/rotate-secret`, {});
    expect(rotated.status).toBe(303);
    const shown = await agent.request(rotated.location!);
    const second = shownOnce(shown.html, 'client-secret')!;
    expect(second).not.toBe(first);
    expect(await s.t.container.clients.authenticate(client.clientId, first!)).toBeUndefined();
    expect(await s.t.container.clients.authenticate(client.clientId, second)).toBeDefined();

    const confirm = await get(`${path}/delete`);
    expect(confirm.html).toContain('Delete Reports v2?');
    const deleted = await post(confirm, `${path}/delete`, {});
    expect(deleted.status).toBe(303);
    expect(deleted.location!.pathname).toBe('/admin/clients');
    expect((await get(path)).status).toBe(404);
  });
});

describe('accounts', () => {
  it('creates an account, refusing a weak password and a taken email with 400', async () => {
    const form = await get('/admin/accounts/new');
    const email = uniqueEmail('created');
    const weak = await post(form, '/admin/accounts', { email, password: 'short' });
    expect(weak.status).toBe(400);
    expect(fieldError(weak.html, 'password')).toContain('Use at least 15 characters.');
    const badEmail = await post(form, '/admin/accounts', { email: 'not-an-email', password: strongPassword() });
    expect(badEmail.status).toBe(400);
    expect(fieldError(badEmail.html, 'email')).toBeDefined();
    const taken = await post(form, '/admin/accounts', { email: admin.email, password: strongPassword() });
    expect(taken.status).toBe(400);
    expect(fieldError(taken.html, 'email')).toBeDefined();
    await expect(s.t.container.accounts.show(email)).rejects.toMatchObject({ code: 'account_not_found' });
    const created = await post(form, '/admin/accounts', { email, name: 'New Person', password: strongPassword(), verified: 'on' });
    expect(created.status).toBe(303);
    expect(await s.t.container.accounts.show(email)).toMatchObject({ name: 'New Person', emailVerified: true });
  });

  it('finds accounts by email or its beginning, a page at a time', async () => {
    const prefix = `pager${Date.now().toString(36)}`;
    for (let i = 0; i < 27; i++) await s.t.container.accounts.create({ email: `${prefix}.${String(i).padStart(2, '0')}@example.test`, password: strongPassword() }, 'test');
    const first = await get(`/admin/accounts?q=${prefix}`);
    expect(first.html.match(new RegExp(`${prefix}\\.\\d\\d@`, 'g'))).toHaveLength(25);
    const next = /href="([^"]+)" rel="next"/.exec(first.html)![1]!.replace(/&amp;/g, '&');
    const second = await get(next);
    expect(second.html.match(new RegExp(`${prefix}\\.\\d\\d@`, 'g'))).toEqual([`${prefix}.25@`, `${prefix}.26@`]);
    expect(second.html).not.toContain('rel="next"');
    const exact = await get(`/admin/accounts?q=${encodeURIComponent(admin.email)}`);
    expect(exact.html).toContain(`>${admin.email}<`);
    expect((await get(`/admin/accounts?q=${admin.id}`)).html).toContain(`>${admin.email}<`);
    expect((await get('/admin/accounts?q=nobody-matches-this')).html).toContain('No account matches that search.');
  });

  it('disables, enables, verifies, resets MFA, ends sessions and sets roles, audited as the admin', async () => {
    const user = await createAccount(s.t, { verified: false });
    const path = `/admin/accounts/${user.id}`;
    let page = await get(path);
    for (const action of ['disable', 'enable', 'unlock', 'verify-email', 'end-sessions']) {
      const done = await post(page, `${path}/${action}`, {});
      expect(done.status, action).toBe(303);
      page = await agent.request(done.location!);
      expect(page.html, action).toContain('Done.');
    }
    expect(await s.t.container.accounts.show(user.id)).toMatchObject({ disabledAt: null, emailVerified: true });
    await s.t.container.rbac.create('support', undefined, 'test');
    const roles = await post(page, `${path}/roles`, { 'role:support': 'on' });
    expect(roles.status).toBe(303);
    expect(await s.t.container.accounts.rolesOf(user.id)).toEqual(['support']);
    const types: Array<{ type: string; actor: string }> = await s.t.container.dataSource.query(`SELECT type, actor FROM audit_events WHERE account_id = $1 AND actor LIKE 'admin:%' ORDER BY id`, [user.id]);
    expect(types.map((event) => event.type)).toEqual(expect.arrayContaining(['account.disabled', 'account.enabled', 'account.unlocked', 'account.email_verified', 'account.roles_changed']));
    expect(new Set(types.map((event) => event.actor))).toEqual(new Set([`admin:${admin.id}`]));
  });

  it('will not let an admin disable themselves or drop their own admin role here', async () => {
    const path = `/admin/accounts/${admin.id}`;
    const page = await get(path);
    const disable = await post(page, `${path}/disable`, {});
    expect(disable.status).toBe(400);
    expect(alertText(disable.html)).toBe('You cannot do this to your own account here.');
    const roles = await post(page, `${path}/roles`, {});
    expect(roles.status).toBe(400);
    expect(await s.t.container.accounts.rolesOf(admin.id)).toContain('admin');
    expect((await s.t.container.accounts.show(admin.id)).disabledAt).toBeNull();
  });
});

describe('roles', () => {
  it('creates a role, grants and revokes permissions per API, gives it to holders, and deletes it', async () => {
    const identifier = `https://orders-${Date.now().toString(36)}.example`;
    await s.t.container.apis.create({ identifier, name: 'Orders', scopes: ['orders:read', 'orders:write'], rbac: true }, 'test');
    const list = await get('/admin/roles');
    const bad = await post(list, '/admin/roles', { name: 'Not Valid!' });
    expect(bad.status).toBe(400);
    expect(fieldError(bad.html, 'name')).toContain('lower-case letters');
    const created = await post(list, '/admin/roles', { name: 'clerk', description: 'Handles orders' });
    expect(created.status).toBe(303);
    const dup = await post(list, '/admin/roles', { name: 'clerk' });
    expect(fieldError(dup.html, 'name')).toBe('A role with this name exists already.');

    let page = await agent.request(created.location!);
    expect(page.html).toContain('Orders');
    const granted = await submitForm(agent, page, '/admin/roles/clerk/permissions', { api: identifier, 'perm:orders:read': 'on', 'perm:orders:write': 'on' });
    expect(granted.status).toBe(303);
    expect((await s.t.container.rbac.show('clerk')).permissions).toEqual([{ api: identifier, permissions: ['orders:read', 'orders:write'] }]);
    page = await agent.request(granted.location!);
    await submitForm(agent, page, '/admin/roles/clerk/permissions', { api: identifier, 'perm:orders:read': 'on' });
    expect((await s.t.container.rbac.show('clerk')).permissions).toEqual([{ api: identifier, permissions: ['orders:read'] }]);

    const user = await createAccount(s.t);
    const unknown = await post(page, '/admin/roles/clerk/assign', { kind: 'account', holder: 'nobody@example.test' });
    expect(unknown.status).toBe(400);
    expect(fieldError(unknown.html, 'assign-holder')).toBe('Nothing matches this. Check the email or ID.');
    expect((await post(page, '/admin/roles/clerk/assign', { kind: 'account', holder: user.email })).status).toBe(303);
    expect(await s.t.container.accounts.rolesOf(user.id)).toEqual(['clerk']);
    page = await get('/admin/roles/clerk');
    expect(page.html).toContain('1 accounts, 0 clients');

    // The page offers no way to delete the admin role, and a forged POST is refused.
    const adminRolePage = await get('/admin/roles/admin');
    expect(adminRolePage.html).not.toContain('/admin/roles/admin/delete');
    const keepAdmin = await agent.request(at('/admin/roles/admin/delete'), { form: { csrf: formValue(adminRolePage.html, 'csrf')! } });
    expect(keepAdmin.status).toBe(400);
    expect(alertText(keepAdmin.html)).toBe('The admin role cannot be deleted here: nobody could open the console any more.');
    const deleted = await post(await get('/admin/roles/clerk/delete'), '/admin/roles/clerk/delete', {});
    expect(deleted.status).toBe(303);
    expect(await s.t.container.accounts.rolesOf(user.id)).toEqual([]);
  });
});

describe('APIs', () => {
  it('registers, changes and deletes a database API; config and built-in ones are read-only', async () => {
    const identifier = `https://inventory-${Date.now().toString(36)}.example`;
    const form = await get('/admin/apis/new');
    const bad = await post(form, '/admin/apis', { identifier: 'not a uri', name: 'Inventory', accessTokenTtl: '600' });
    expect(bad.status).toBe(400);
    expect(fieldError(bad.html, 'identifier')).toBe('Enter an absolute URI without a fragment, such as https://api.example.com.');
    const badTtl = await post(form, '/admin/apis', { identifier, name: 'Inventory', accessTokenTtl: '999999' });
    expect(fieldError(badTtl.html, 'accessTokenTtl')).toBe('Enter a whole number of seconds from 1 to 86400.');
    await expect(s.t.container.apis.show(identifier)).rejects.toMatchObject({ code: 'api_not_found' });

    const created = await post(form, '/admin/apis', { identifier, name: 'Inventory', scopes: 'stock:read\nstock:write', accessTokenTtl: '900', rbac: 'on' });
    expect(created.status).toBe(303);
    const page = await agent.request(created.location!);
    expect(page.html).toContain('<h1>Inventory</h1>');
    const saved = await post(page, '/admin/apis/update', { name: 'Inventory v2', scopes: 'stock:read', accessTokenTtl: '300' });
    expect(saved.status).toBe(303);
    expect(await s.t.container.apis.show(identifier)).toMatchObject({ name: 'Inventory v2', scopes: ['stock:read'], accessTokenTtl: 300, rbac: false });

    const builtin = await get(`/admin/apis/show?${new URLSearchParams({ identifier: `${s.t.issuer}/admin/api` })}`);
    expect(builtin.html).not.toContain('/admin/apis/update');
    expect(builtin.html).toContain('its scopes come with the admin role');

    const confirm = await get(`/admin/apis/delete?${new URLSearchParams({ identifier })}`);
    const deleted = await post(confirm, '/admin/apis/delete', {});
    expect(deleted.status).toBe(303);
    await expect(s.t.container.apis.show(identifier)).rejects.toMatchObject({ code: 'api_not_found' });
  });
});

describe('API keys', () => {
  it('creates a service key (token shown once), rotates it and revokes it', async () => {
    const { client } = await s.t.container.clients.create({ name: 'Batch job', type: 'service' }, 'test');
    const list = await get('/admin/api-keys');
    const noName = await post(list, '/admin/api-keys', { clientId: client.clientId, name: '' });
    expect(noName.status).toBe(400);
    expect(fieldError(noName.html, 'name')).toBe('Enter a name of at most 200 characters.');
    const past = await post(list, '/admin/api-keys', { clientId: client.clientId, name: 'Old', expires: '2001-01-01' });
    expect(past.status).toBe(400);
    expect(fieldError(past.html, 'expires')).toBeDefined();
    expect(await s.t.container.apiKeys.list({ clientId: client.clientId })).toEqual([]);

    const created = await post(list, '/admin/api-keys', { clientId: client.clientId, name: 'Nightly', api: '', scopes: '' });
    expect(created.status).toBe(303);
    const page = await agent.request(created.location!);
    const token = shownOnce(page.html, 'api-key-token')!;
    expect(token).toMatch(/^pcl_[0-9a-f]{20}_[\w-]{43}$/);
    expect(await s.t.container.apiKeys.verify(token)).toMatchObject({ clientId: client.clientId, name: 'Nightly' });
    expect((await agent.request(created.location!)).html).not.toContain('id="api-key-token"');

    const rotated = await post(page, '/rotate', {});
    expect(rotated.status).toBe(303);
    const next = shownOnce((await agent.request(rotated.location!)).html, 'api-key-token')!;
    expect(await s.t.container.apiKeys.verify(token)).toBeUndefined();
    expect(await s.t.container.apiKeys.verify(next)).toBeDefined();
    const revoked = await post(page, '/revoke', {});
    expect(revoked.status).toBe(303);
    expect(await s.t.container.apiKeys.verify(next)).toBeUndefined();
  });
});

describe('signing keys', () => {
  it('lists the published keys and rotates', async () => {
    const page = await get('/admin/keys');
    const before = await s.t.container.keys.list();
    for (const key of before) expect(plain(page.html)).toContain(key.kid);
    const rotated = await post(page, '/admin/keys/rotate', {});
    expect(rotated.status).toBe(303);
    const after = await s.t.container.keys.list();
    expect(after.length).toBe(before.length + 1);
    const next = after.find((key) => !before.some((old) => old.kid === key.kid))!;
    expect(next.status).toBe('next');
    const shown = await agent.request(rotated.location!);
    expect(plain(shown.html)).toContain(next.kid);
    expect(shown.html).toContain('Rotated.');
  });
});

describe('audit log', () => {
  it('shows the newest events first, filters by type, actor and account, and pages towards older ones', async () => {
    const actor = `admin:${admin.id}`;
    const base = `auditrole${Date.now().toString(36)}`;
    for (let i = 0; i < 52; i++) await s.t.container.rbac.create(`${base}-${i}`, undefined, actor);
    const first = await get(`/admin/audit?type=role.created&actor=${encodeURIComponent(actor)}`);
    const names = (html: string) => [...plain(html).matchAll(new RegExp(`&#34;(${base}-\\d+)&#34;`, 'g'))].map((m) => m[1]!);
    expect(names(first.html)).toHaveLength(50);
    expect(names(first.html)[0]).toBe(`${base}-51`);
    const older = /href="([^"]+)" rel="next"/.exec(first.html)![1]!.replace(/&amp;/g, '&');
    const second = await get(older);
    expect(second.status).toBe(200);
    expect(second.html).toContain('Older events');
    expect(names(second.html).slice(0, 2)).toEqual([`${base}-1`, `${base}-0`]);

    const byAccount = await get(`/admin/audit?account=${encodeURIComponent(admin.email)}`);
    expect(byAccount.html).toContain('role.assigned');
    const unknown = await get('/admin/audit?account=nobody%40example.test');
    expect(fieldError(unknown.html, 'account')).toBe('No account has this email or ID.');
    const badCursor = await get('/admin/audit?cursor=bogus');
    expect(badCursor.status).toBe(400);
  });
});

describe('French', () => {
  it('serves the console in French for Accept-Language: fr', async () => {
    const page = await agent.request(at('/admin'), { headers: { 'accept-language': 'fr' } });
    expect(page.html).toContain('<h1>Console d&#39;administration</h1>');
    expect(page.html).toContain('Vue d&#39;ensemble');
  });
});
