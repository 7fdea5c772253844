import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { emailedLink, newContext, submitSignIn, type RelyingParty, startBrowserStage, type BrowserStage } from '../helpers/browser.js';
import { type SmtpReceiver } from '../helpers/smtp-receiver.js';
import type { TestServer } from '../helpers/test-server.js';

let stage: BrowserStage;
let t: TestServer;
let smtp: SmtpReceiver;
let rp: RelyingParty;
let browser: Browser;
const email = 'katherine@example.com';
const oldPassword = 'copper lantern meadow whistle 19';
const newPassword = 'orbital pelican sandstone ferry 83';

beforeAll(async () => {
  stage = await startBrowserStage();
  ({ t, smtp, rp, browser } = stage);
  await t.container.accounts.create({ email, password: oldPassword, verified: true }, 'test');
});
afterAll(() => stage?.close());

it('resets a forgotten password from another browser and signs out the session that knew the old one', async () => {
  // Browser A: signed in to the relying party, with a session at the provider.
  const a = await newContext(browser);
  const pageA = await a.newPage();
  await pageA.goto(`${rp.url}/login`);
  await submitSignIn(pageA, { email, password: oldPassword });
  await pageA.getByRole('button', { name: 'Allow' }).click();
  await pageA.waitForURL(`${rp.url}/callback?**`);
  // While the session lives, the relying party's next sign-in goes straight through.
  await pageA.goto(`${rp.url}/login`);
  await pageA.waitForURL(`${rp.url}/callback?**`);
  await pageA.locator('[data-claim=sub]').waitFor();

  // Browser B: "Forgot your password?" → email → link → new password.
  const b = await newContext(browser);
  const pageB = await b.newPage();
  await pageB.goto(`${rp.url}/login`);
  await pageB.getByRole('link', { name: 'Forgot your password?' }).click();
  await pageB.getByRole('heading', { name: 'Reset your password' }).waitFor();
  await pageB.getByLabel('Email', { exact: true }).fill(email);
  await pageB.getByRole('button', { name: 'Send reset link' }).click();
  await pageB.getByRole('heading', { name: 'Check your email' }).waitFor();
  await pageB.goto(await emailedLink(smtp, email, '/reset-password'));
  await pageB.getByRole('heading', { name: 'Choose a new password' }).waitFor();
  await pageB.getByLabel('New password').fill(newPassword);
  await pageB.getByRole('button', { name: 'Set new password' }).click();
  await pageB.getByRole('heading', { name: 'Password changed' }).waitFor();
  // The link works once.
  await pageB.goBack();
  await pageB.reload();
  await pageB.getByRole('heading', { name: "This link can't be used" }).waitFor();

  // Browser A's session is gone: the relying party's sign-in stops at the login page again.
  await pageA.goto(`${rp.url}/login`);
  await pageA.waitForURL(/\/interaction\//);
  await submitSignIn(pageA, { email, password: oldPassword });
  await expect.poll(() => pageA.getByRole('alert').textContent()).toBe('The email or password is incorrect.');
  await submitSignIn(pageA, { email, password: newPassword });
  // The reset revoked the grant too, so consent is asked again.
  await pageA.getByRole('button', { name: 'Allow' }).click();
  await pageA.waitForURL(`${rp.url}/callback?**`);
  expect(await pageA.locator('[data-claim=email]').textContent()).toBe(email);

  await a.close();
  await b.close();
}, 60_000);
