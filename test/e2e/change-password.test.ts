import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { newContext, submitSignIn, startBrowserStage, type BrowserStage, type RelyingParty } from '../helpers/browser.js';
import { type SmtpReceiver } from '../helpers/smtp-receiver.js';
import type { TestServer } from '../helpers/test-server.js';

let stage: BrowserStage;
let t: TestServer;
let rp: RelyingParty;
let smtp: SmtpReceiver;
let browser: Browser;
const email = 'barbara@example.com';
const oldPassword = 'maple harmonica voyage thistle 26';
const newPassword = 'saffron glacier typewriter orchard 71';

beforeAll(async () => {
  stage = await startBrowserStage();
  ({ t, smtp, rp, browser } = stage);
  await t.container.accounts.create({ email, password: oldPassword, verified: true }, 'test');
});
afterAll(() => stage?.close());

/** Opens /account; it sends the person through the hosted sign-in (first-party: no consent) and back. */
async function signInToAccount(page: Page, password: string): Promise<void> {
  await page.goto(`${t.issuer}/account`);
  await submitSignIn(page, { email, password });
  await page.waitForURL(`${t.issuer}/account`);
  await page.getByRole('heading', { name: 'Your account' }).waitFor();
}

it('changes the password on /account and signs out the other sessions, keeping this one', async () => {
  // An older session on another device.
  const other = await newContext(browser);
  const otherPage = await other.newPage();
  await signInToAccount(otherPage, oldPassword);

  const context = await newContext(browser);
  const page = await context.newPage();
  await signInToAccount(page, oldPassword);
  await expect.poll(() => page.getByText(email).textContent()).toContain(email);
  await page.getByRole('link', { name: 'Password' }).click();
  await page.getByRole('heading', { name: 'Change password' }).waitFor();
  await page.getByLabel('Current password').fill(oldPassword);
  await page.getByLabel('New password').fill(newPassword);
  const signOutOthers = page.getByLabel('Sign out of all other sessions');
  expect(await signOutOthers.isChecked()).toBe(true);
  await page.getByRole('button', { name: 'Change password' }).click();
  await page.getByRole('status').filter({ hasText: 'Your password was changed.' }).waitFor();
  const mail = await smtp.waitFor((m) => JSON.stringify(m.to ?? '').includes(email) && /password was changed/i.test(m.subject ?? ''));
  expect(mail.subject).toBe('Your Portcullis password was changed');

  // This browser stays signed in.
  await page.goto(`${t.issuer}/account`);
  await page.getByRole('heading', { name: 'Your account' }).waitFor();

  // The other one is signed out: /account asks it to sign in again, and only the new password works.
  await otherPage.goto(`${t.issuer}/account`);
  await otherPage.getByRole('heading', { name: 'Sign in' }).waitFor();
  await submitSignIn(otherPage, { email, password: oldPassword });
  await expect.poll(() => otherPage.getByRole('alert').textContent()).toBe('The email or password is incorrect.');
  await submitSignIn(otherPage, { email, password: newPassword });
  await otherPage.waitForURL(`${t.issuer}/account`);
  await otherPage.getByRole('heading', { name: 'Your account' }).waitFor();

  await context.close();
  await other.close();
}, 60_000);
