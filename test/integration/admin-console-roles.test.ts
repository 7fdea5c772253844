/**
 * The console's role page and its holders: the accounts holding a role, a page at a time by email
 * (keyset), each linked and with a button taking the role away, and the clients holding it; the
 * rbac service's paged holder listing underneath; and service refusals shown in the page's language.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserAgent, PageResponse } from '../helpers/browser-agent.js';
import { alertText, startAccountsServer, strongPassword, submitForm, type AccountsServer } from '../helpers/accounts-fixtures.js';
import { createConsoleAdmin, signInConsoleAdmin, type ConsoleAdmin } from '../helpers/admin-console-session.js';

let s: AccountsServer;
let admin: ConsoleAdmin;
let agent: BrowserAgent;

beforeAll(async () => {
  s = await startAccountsServer();
  admin = await createConsoleAdmin(s.t);
  ({ agent } = await signInConsoleAdmin(s.t, admin));
});
afterAll(() => s?.close());

const at = (path: string) => new URL(path, s.t.issuer);
const get = (path: string, headers?: Record<string, string>) => agent.request(at(path), { headers });
/** The page's text without the line-break hints (<wbr>) that long ids, emails and URIs carry. */
const plain = (html: string) => html.replace(/<wbr>/g, '');
const decode = (text: string) => text.replace(/&#(\d+);/g, (_, code: string) => String.fromCharCode(Number(code))).replace(/&amp;/g, '&');
/** The emails the page lists as account holders, in page order. */
const holderEmails = (html: string) => [...plain(html).matchAll(/<a href="\/admin\/accounts\/[\w-]+">([^<]+)<\/a>/g)].map((m) => decode(m[1]!));
const nextLink = (html: string) => /href="([^"]+)" rel="next"/.exec(html)?.[1]?.replace(/&amp;/g, '&');

/** Presses the "Remove" button of one holder: posts that button's own form, hidden fields and all. */
async function pressRemove(page: PageResponse, holder: string): Promise<PageResponse> {
  const form = page.html.split('<form').find((chunk) => chunk.includes('/unassign"') && chunk.includes(`name="holder" value="${holder}"`));
  expect(form, `no remove button for ${holder}`).toBeDefined();
  const action = /action="([^"]+)"/.exec(form!)![1]!;
  const fields = Object.fromEntries([...form!.matchAll(/type="hidden" name="([\w-]+)" value="([^"]*)"/g)].map((m) => [m[1]!, decode(m[2]!)]));
  return agent.request(new URL(action, page.url), { form: fields });
}

describe('role page holders', () => {
  it('lists the accounts holding the role by email, 25 a page, each linked and with a remove button', async () => {
    await s.t.container.rbac.create('reviewer', 'Reviews things', 'test');
    const emails = Array.from({ length: 27 }, (_, i) => `holder.${String(i).padStart(2, '0')}@example.test`);
    // Mixed case sorts as the lower-case address: the list follows the case-insensitive email order.
    emails[5] = 'Holder.05@example.test';
    const ids = new Map<string, string>();
    for (const email of emails) {
      const account = await s.t.container.accounts.create({ email, password: strongPassword() }, 'test');
      ids.set(email, account.id);
      await s.t.container.rbac.assign('reviewer', { account: account.id }, 'test');
    }
    // Between the holders by email, but without the role: never listed.
    await s.t.container.accounts.create({ email: 'holder.10a@example.test', password: strongPassword() }, 'test');

    const first = await get('/admin/roles/reviewer');
    expect(first.status).toBe(200);
    expect(first.html).toContain('27 accounts, 0 clients');
    expect(holderEmails(first.html)).toEqual(emails.slice(0, 25));
    for (const email of emails.slice(0, 25)) {
      expect(first.html).toContain(`<a href="/admin/accounts/${ids.get(email)}">`);
      expect(first.html).toContain(`name="holder" value="${ids.get(email)}"`);
      expect(first.html).toContain(`aria-label="Remove ${email}"`);
    }
    expect(first.html).not.toContain('First page');
    expect(first.html).toContain('No client holds this role.');

    const second = await get(nextLink(first.html)!);
    expect(second.status).toBe(200);
    expect(holderEmails(second.html)).toEqual(emails.slice(25));
    expect(nextLink(second.html)).toBeUndefined();
    expect(second.html).toContain('<a href="/admin/roles/reviewer">First page</a>');

    const target = emails[3]!;
    const removed = await pressRemove(first, ids.get(target)!);
    expect(removed.status).toBe(303);
    expect(removed.location!.pathname).toBe('/admin/roles/reviewer');
    expect(await s.t.container.accounts.rolesOf(ids.get(target)!)).toEqual([]);
    const after = await agent.request(removed.location!);
    expect(after.html).toContain('Your changes were saved.');
    expect(after.html).toContain('26 accounts, 0 clients');
    expect(holderEmails(after.html)).not.toContain(target);
    const [event] = await s.t.container.dataSource.query(`SELECT actor, details FROM audit_events WHERE type = 'role.unassigned' AND account_id = $1`, [ids.get(target)]);
    expect(event).toMatchObject({ actor: `admin:${admin.id}`, details: { role: 'reviewer' } });
  });

  it('lists the clients holding the role, linked, each with a remove button', async () => {
    await s.t.container.rbac.create('ingest', undefined, 'test');
    const { client } = await s.t.container.clients.create({ name: 'Nightly import', type: 'service' }, 'test');
    await s.t.container.rbac.assign('ingest', { client: client.clientId }, 'test');
    const page = await get('/admin/roles/ingest');
    expect(page.html).toContain('0 accounts, 1 clients');
    expect(page.html).toContain(`<a href="/admin/clients/${client.clientId}">Nightly import</a>`);
    expect(page.html).toContain('aria-label="Remove Nightly import"');
    expect(page.html).toContain('No account holds this role.');
    const removed = await pressRemove(page, client.clientId);
    expect(removed.status).toBe(303);
    expect(await s.t.container.rbac.rolesForClient(client.clientId)).toEqual([]);
    expect((await get('/admin/roles/ingest')).html).toContain('No client holds this role.');
  });
});

describe('rbac.holders', () => {
  it('pages the accounts by case-insensitive email after the one given, with every client, and refuses a bad limit or role', async () => {
    const { rbac, accounts, clients } = s.t.container;
    await rbac.create('auditor', undefined, 'test');
    for (const email of ['c@holders.test', 'A@holders.test', 'b@holders.test']) {
      await rbac.assign('auditor', { account: (await accounts.create({ email, password: strongPassword() }, 'test')).id }, 'test');
    }
    const { client } = await clients.create({ name: 'Auditing job', type: 'service' }, 'test');
    await rbac.assign('auditor', { client: client.clientId }, 'test');

    const first = await rbac.holders('auditor', { limit: 2 });
    expect(first.accounts.map((account) => account.email)).toEqual(['A@holders.test', 'b@holders.test']);
    expect(first.next).toBe('b@holders.test');
    expect(first.clients).toEqual([{ clientId: client.clientId, name: 'Auditing job', type: 'service' }]);
    const rest = await rbac.holders('auditor', { limit: 2, after: first.next });
    expect(rest.accounts.map((account) => account.email)).toEqual(['c@holders.test']);
    expect(rest.next).toBeUndefined();
    // The keyset compares like the order does: "B@…" and "b@…" are the same place.
    expect((await rbac.holders('auditor', { after: 'B@HOLDERS.TEST' })).accounts.map((account) => account.email)).toEqual(['c@holders.test']);

    await expect(rbac.holders('auditor', { limit: 0 })).rejects.toMatchObject({ code: 'invalid_limit', status: 400 });
    await expect(rbac.holders('auditor', { limit: 1001 })).rejects.toMatchObject({ code: 'invalid_limit' });
    await expect(rbac.holders('no-such-role')).rejects.toMatchObject({ code: 'role_not_found', status: 404 });
  });
});

describe('refusals in the page language', () => {
  it('shows a refusal only the service detects in French on French pages, in English on English ones', async () => {
    const identifier = `https://ledger-${Date.now().toString(36)}.example`;
    await s.t.container.apis.create({ identifier, name: 'Ledger', scopes: ['ledger:read'], rbac: true }, 'test');
    await s.t.container.rbac.create('bookkeeper', undefined, 'test');
    await s.t.container.rbac.setPermissions('bookkeeper', identifier, ['ledger:read'], 'test');
    const deletePath = `/admin/apis/delete?${new URLSearchParams({ identifier })}`;

    const fr = { 'accept-language': 'fr' };
    const confirm = await get(deletePath, fr);
    const refused = await submitForm(agent, confirm, '/admin/apis/delete', {}, fr);
    expect(refused.status).toBe(400);
    expect(alertText(refused.html)).toBe('Des rôles ou des clés d\'API utilisent encore cette API : retirez d\'abord ces permissions et révoquez ces clés.');
    const english = await submitForm(agent, await get(deletePath), '/admin/apis/delete', {});
    expect(alertText(english.html)).toBe('Roles or API keys still use this API: take those permissions away and revoke those keys first.');
    expect(await s.t.container.apis.show(identifier)).toMatchObject({ name: 'Ledger' });

    // A permission the page never offers (a forged form): the service refuses it, in French here too.
    const rolePage = await get('/admin/roles/bookkeeper', fr);
    const forged = await submitForm(agent, rolePage, '/admin/roles/bookkeeper/permissions', { api: identifier, 'perm:ledger:read': 'on', 'perm:ledger:burn': 'on' }, fr);
    expect(forged.status).toBe(400);
    expect(alertText(forged.html)).toBe('Une permission ne fait pas partie des portées que cette API déclare. Rechargez la page et réessayez.');
    expect((await s.t.container.rbac.show('bookkeeper')).permissions).toEqual([{ api: identifier, permissions: ['ledger:read'] }]);
  });
});
