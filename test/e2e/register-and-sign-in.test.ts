import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { emailedLink, newContext, solveAltcha, submitSignIn, watchConsole, type RelyingParty, startBrowserStage, type BrowserStage } from '../helpers/browser.js';
import { type SmtpReceiver } from '../helpers/smtp-receiver.js';
import type { TestServer } from '../helpers/test-server.js';

let stage: BrowserStage;
let t: TestServer;
let smtp: SmtpReceiver;
let rp: RelyingParty;
let browser: Browser;

beforeAll(async () => {
  // The default CAPTCHA (altcha) stays on: registration solves the real widget in the browser.
  stage = await startBrowserStage();
  ({ t, smtp, rp, browser } = stage);
});
afterAll(() => stage?.close());

it('registers, confirms the email, signs in and consents; the relying party gets a verified email', async () => {
  const email = 'margaret@example.com';
  const password = 'violet tractor harbour quietly 47';
  const context = await newContext(browser);
  const page = await context.newPage();
  const watcher = watchConsole(page);

  await page.goto(`${rp.url}/login`);
  await page.waitForURL(/\/interaction\//);
  await page.getByRole('link', { name: 'Create an account' }).click();
  await page.getByRole('heading', { name: 'Create your account' }).waitFor();
  await page.getByLabel('Name (optional)').fill('Margaret Hamilton');
  await page.getByLabel('Email', { exact: true }).fill(email);
  await page.getByLabel('Password', { exact: true }).fill(password);
  // The strength meter (a nonce'd script loading zxcvbn from /static/vendor) judges the passphrase.
  await expect.poll(() => page.locator('#password-strength output').textContent()).toMatch(/Strong|Very strong/);

  // The real altcha widget: ticking it solves the proof of work in a worker and fills the hidden field.
  await solveAltcha(page);
  expect(await page.locator('input[name="altcha"]').inputValue()).not.toBe('');
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.getByRole('heading', { name: 'Check your email' }).waitFor();

  await page.goto(await emailedLink(smtp, email, '/verify-email'));
  await page.getByRole('button', { name: 'Confirm my email address' }).click();
  await page.getByRole('heading', { name: 'Email address confirmed' }).waitFor();
  await page.getByRole('link', { name: 'Continue signing in' }).click();

  await submitSignIn(page, { email, password });
  await page.getByRole('heading', { name: 'Allow access' }).waitFor();
  await page.getByRole('button', { name: 'Allow' }).click();

  await page.waitForURL(`${rp.url}/callback?**`);
  const account = await t.container.accounts.show(email);
  expect(account).toBeTruthy();
  expect(await page.locator('[data-claim=sub]').textContent()).toBe(account!.id);
  expect(await page.locator('[data-claim=email]').textContent()).toBe(email);
  expect(await page.locator('[data-claim=email_verified]').textContent()).toBe('true');

  expect(watcher.cspViolations()).toEqual([]);
  expect(watcher.errors).toEqual([]);
  await context.close();
}, 60_000);
