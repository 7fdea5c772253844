import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSetupService } from '../../src/setup/setup-service.js';
import { BrowserAgent, formAction, formValue } from '../helpers/browser-agent.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

let t: TestServer;
const admin = { email: 'first.admin@example.com', name: 'First Admin', password: 'an admin passphrase that is long' };

beforeAll(async () => { t = await startTestServer({ captcha: { provider: 'none' } }); });
afterAll(() => t?.close());

const form = async (agent: BrowserAgent, link: string) => {
  const page = await agent.request(link);
  return { page, csrf: formValue(page.html, 'csrf') ?? '', expires: formValue(page.html, 'expires') ?? '', sig: formValue(page.html, 'sig') ?? '' };
};

describe('first-run setup', () => {
  it('refuses a tampered or expired link', async () => {
    const link = new URL(t.container.setup.link(t.issuer));
    link.searchParams.set('expires', String(Number(link.searchParams.get('expires')) + 60));
    expect((await new BrowserAgent().request(link)).status).toBe(404);
    const key = createHmac('sha256', t.container.config.secrets.encryptionKey).update('portcullis first-run setup').digest('hex');
    const past = createSetupService({ db: t.container.db, hasher: t.container.hasher, policy: t.container.policy, key, now: () => Date.now() - 7_200_000 });
    expect((await new BrowserAgent().request(past.link(t.issuer))).status).toBe(404);
  });

  it('creates the first admin once, verified and required to use a second factor, then the link is dead', async () => {
    expect(await t.container.setup.adminExists()).toBe(false);
    const link = t.container.setup.link(t.issuer);
    const agent = new BrowserAgent();
    const { page, csrf, expires, sig } = await form(agent, link);
    expect(page.status).toBe(200);
    expect(formAction(page.html, '/setup')).toBeDefined();

    const forged = await agent.request(new URL('/setup', t.issuer), { form: { expires, sig, ...admin } });
    expect(forged.status).toBe(403);
    const weak = await agent.request(new URL('/setup', t.issuer), { form: { csrf, expires, sig, ...admin, password: 'short' } });
    expect(weak.status).toBe(400);

    const done = await agent.request(new URL('/setup', t.issuer), { form: { csrf, expires, sig, ...admin } });
    expect(done.status).toBe(200);
    const account = await t.container.accounts.show(admin.email);
    expect(account).toMatchObject({ emailVerified: true, mfaRequired: true, roles: ['admin'] });
    const events = await t.container.audit.listForAccount(account.id, { limit: 5 });
    expect(events.map((e) => e.type)).toContain('setup.first_admin_created');

    expect(await t.container.setup.adminExists()).toBe(true);
    expect((await new BrowserAgent().request(link)).status).toBe(404);
    const again = await agent.request(new URL('/setup', t.issuer), { form: { csrf, expires, sig, ...admin, email: 'second@example.com' } });
    expect(again.status).toBe(404);
    expect(await t.container.db.repos.accounts.findByEmail('second@example.com')).toBeNull();
  });
});
