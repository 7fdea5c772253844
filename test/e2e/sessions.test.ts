import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { newContext, submitSignIn, type RelyingParty, startBrowserStage, type BrowserStage } from '../helpers/browser.js';
import type { TestServer } from '../helpers/test-server.js';

let stage: BrowserStage;
let t: TestServer;
let rp: RelyingParty;
let browser: Browser;
const email = 'sessions@example.com';
const password = 'lantern orchard quartz meadow 48';

beforeAll(async () => {
  stage = await startBrowserStage({ captcha: { provider: 'none' } });
  ({ t, rp, browser } = stage);
  await t.container.accounts.create({ email, password, verified: true }, 'test');
});
afterAll(() => stage?.close());

/** Signs in at the relying party (approving consent the first time): this browser now has a session. */
async function signInAtRelyingParty(page: Page): Promise<void> {
  await page.goto(`${rp.url}/login`);
  await submitSignIn(page, { email, password });
  await page.waitForURL((url) => url.pathname === '/callback' || url.pathname.startsWith('/interaction/'));
  if (page.url().includes('/interaction/')) await page.getByRole('button', { name: /allow|continue/i }).first().click();
  await page.getByRole('heading', { name: 'Signed in to the relying party' }).waitFor();
}

it('lists both browsers on /account/sessions and signs the other one out', async () => {
  const other = await newContext(browser);
  const otherPage = await other.newPage();
  await signInAtRelyingParty(otherPage);

  const context = await newContext(browser);
  const page = await context.newPage();
  await page.goto(`${t.issuer}/account`);
  await submitSignIn(page, { email, password });
  await page.getByRole('heading', { name: 'Your account' }).waitFor();
  await page.getByRole('link', { name: 'Sessions' }).click();
  await page.getByRole('heading', { name: "Where you're signed in" }).waitFor();

  const rows = page.locator('ul.sessions > li');
  await expect.poll(() => rows.count()).toBe(2);
  const current = rows.filter({ hasText: 'This device' });
  await expect.poll(() => current.count()).toBe(1);
  // Headless Chromium on Linux, seen from loopback.
  expect(await current.textContent()).toMatch(/Chrome \d+/);
  expect(await current.textContent()).toContain('Linux');
  expect(await current.textContent()).toMatch(/127\.0\.0\.1/);

  await rows.filter({ hasNotText: 'This device' }).getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('status').filter({ hasText: 'That session was signed out.' }).waitFor();
  await expect.poll(() => rows.count()).toBe(1);

  // The other browser's next sign-in at the relying party shows the login page again.
  await otherPage.goto(`${rp.url}/login`);
  await otherPage.getByRole('heading', { name: 'Sign in', exact: true }).waitFor();

  // This one is still signed in.
  await page.goto(`${t.issuer}/account/sessions`);
  await page.getByRole('heading', { name: "Where you're signed in" }).waitFor();

  await context.close();
  await other.close();
}, 60_000);
