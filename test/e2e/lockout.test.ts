import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { emailedLink, newContext, solveAltcha, submitSignIn, watchConsole, type RelyingParty, startBrowserStage, type BrowserStage } from '../helpers/browser.js';
import { type SmtpReceiver } from '../helpers/smtp-receiver.js';
import type { TestServer } from '../helpers/test-server.js';

let stage: BrowserStage;
let t: TestServer;
let smtp: SmtpReceiver;
let rp: RelyingParty;
let browser: Browser;
const email = 'dorothy@example.com';
const password = 'granite otter lullaby compass 52';

beforeAll(async () => {
  // Defaults: CAPTCHA (the real altcha widget) after 3 failures, lock after 5.
  stage = await startBrowserStage();
  ({ t, smtp, rp, browser } = stage);
  await t.container.accounts.create({ email, password, verified: true }, 'test');
});
afterAll(() => stage?.close());

const alert = (page: Page) => page.getByRole('alert').textContent();

it('locks after 5 wrong passwords, emails an unlock link, and signs in once unlocked', async () => {
  const context = await newContext(browser);
  const page = await context.newPage();
  const watcher = watchConsole(page);
  await page.goto(`${rp.url}/login`);

  for (let attempt = 1; attempt <= 3; attempt++) {
    await submitSignIn(page, { email, password: `wrong guess number ${attempt}` });
    await expect.poll(() => alert(page)).toBe('The email or password is incorrect.');
  }
  // The 4th try is held back until the person completes the CAPTCHA; the password isn't checked.
  await submitSignIn(page, { email, password: 'wrong guess number 4' });
  await expect.poll(() => alert(page)).toMatch(/complete the check below/);
  await solveAltcha(page);
  await page.getByLabel('Password', { exact: true }).fill('wrong guess number 4');
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await expect.poll(() => alert(page)).toBe('The email or password is incorrect.');
  // The widget is back for the 5th try (each solution is single-use).
  await solveAltcha(page);
  await page.getByLabel('Password', { exact: true }).fill('wrong guess number 5');
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.getByRole('heading', { name: 'Sign-in temporarily blocked' }).waitFor();

  // Even the right password is refused while locked.
  await page.goto(`${rp.url}/login`);
  await submitSignIn(page, { email, password });
  await page.getByRole('heading', { name: 'Sign-in temporarily blocked' }).waitFor();

  // The unlock email → link → one confirming click.
  await page.goto(await emailedLink(smtp, email, '/unlock'));
  await page.getByRole('heading', { name: 'Unlock your account' }).waitFor();
  await page.getByRole('button', { name: 'Unlock my account' }).click();
  await page.getByRole('heading', { name: 'Account unlocked' }).waitFor();

  // Signing in works again. This network just failed 5 times, so the CAPTCHA is still asked for.
  await page.goto(`${rp.url}/login`);
  await submitSignIn(page, { email, password });
  await expect.poll(() => alert(page)).toMatch(/complete the check below/);
  await solveAltcha(page);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.getByRole('button', { name: 'Allow' }).click();
  await page.waitForURL(`${rp.url}/callback?**`);
  expect(await page.locator('[data-claim=email]').textContent()).toBe(email);
  expect(watcher.cspViolations()).toEqual([]);
  await context.close();
}, 60_000);
