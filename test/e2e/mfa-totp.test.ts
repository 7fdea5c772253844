import { generate } from 'otplib';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { newContext, submitSignIn, watchConsole, type RelyingParty, startBrowserStage, type BrowserStage } from '../helpers/browser.js';
import { type SmtpReceiver } from '../helpers/smtp-receiver.js';
import type { TestServer } from '../helpers/test-server.js';

let stage: BrowserStage;
let t: TestServer;
let smtp: SmtpReceiver;
let rp: RelyingParty;
let browser: Browser;
const email = 'katherine@example.com';
const password = 'meridian quartz pelican saddle 83';

beforeAll(async () => {
  stage = await startBrowserStage({ captcha: { provider: 'none' } });
  ({ t, smtp, rp, browser } = stage);
  await t.container.accounts.create({ email, password, verified: true }, 'test');
  await t.container.accounts.setMfaRequired(email, true, 'test');
});
afterAll(() => stage?.close());

/** Approves the relying party on the consent page and returns the claims its callback page shows. */
async function consentAndReadClaims(page: Page) {
  await page.getByRole('heading', { name: 'Allow access' }).waitFor();
  await page.getByRole('button', { name: 'Allow' }).click();
  await page.waitForURL(`${rp.url}/callback?**`);
  await page.getByRole('heading', { name: 'Signed in to the relying party' }).waitFor();
  const claim = async (name: string) => (await page.locator(`[data-claim=${name}]`).textContent()) ?? '';
  return { sub: await claim('sub'), amr: (await claim('amr')).split(' ').filter(Boolean), acr: await claim('acr') };
}

/** A fresh browser at the relying party, past the password, on the second-factor challenge. */
async function passwordThenChallenge() {
  const context = await newContext(browser);
  const page = await context.newPage();
  const watcher = watchConsole(page);
  await page.goto(`${rp.url}/login`);
  await submitSignIn(page, { email, password });
  await page.getByRole('heading', { name: "Confirm it's you" }).waitFor();
  return { context, page, watcher };
}

/** Opens "Use a recovery code instead" and submits `code` there. */
async function useRecoveryCode(page: Page, code: string): Promise<void> {
  await page.getByText('Use a recovery code instead').click();
  await page.getByLabel('Recovery code', { exact: true }).fill(code);
  await page.locator('details').getByRole('button', { name: 'Verify' }).click();
}

it('enrols an authenticator app when the account requires MFA, then signs in with a recovery code', async () => {
  const account = (await t.container.accounts.show(email))!;

  // First sign-in: the password leads straight to enrolment.
  const first = await newContext(browser);
  const page = await first.newPage();
  const watcher = watchConsole(page);
  await page.goto(`${rp.url}/login`);
  await submitSignIn(page, { email, password });
  await page.getByRole('heading', { name: 'Set up two-step sign-in' }).waitFor();

  // The QR code is rendered server-side as a data: PNG (allowed by img-src data:) and actually decodes.
  const qr = page.getByRole('img', { name: 'QR code to add this account to an authenticator app' });
  const src = (await qr.getAttribute('src')) ?? '';
  expect(src).toMatch(/^data:image\/png;base64,/);
  expect(Buffer.from(src.slice(src.indexOf(',') + 1), 'base64').subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  await expect.poll(() => qr.evaluate((img) => (img as unknown as { complete: boolean; naturalWidth: number }).naturalWidth)).toBeGreaterThan(0);

  // The key for typing by hand, in groups of four: what an authenticator app would be given.
  await page.getByText('Or enter this key by hand:').waitFor();
  const secret = ((await page.locator('code.secret').textContent()) ?? '').replace(/\s+/g, '');
  expect(secret).toMatch(/^[A-Z2-7]{16,}$/);
  await page.getByLabel('Code', { exact: true }).fill(await generate({ secret }));
  await page.getByRole('button', { name: 'Turn on two-step sign-in' }).click();

  await page.getByRole('heading', { name: 'Save your recovery codes' }).waitFor();
  const codes = await page.getByRole('list', { name: 'Save your recovery codes' }).getByRole('listitem').allTextContents();
  expect(codes).toHaveLength(10);
  expect(new Set(codes).size).toBe(10);
  await page.getByRole('button', { name: 'I have saved them, continue' }).click();

  const claims = await consentAndReadClaims(page);
  expect(claims.sub).toBe(account.id);
  expect(claims.amr).toEqual(['pwd', 'otp', 'mfa']);
  expect(claims.acr).toBe('urn:portcullis:acr:mfa');
  expect(watcher.cspViolations()).toEqual([]);
  expect(watcher.errors).toEqual([]);
  await first.close();

  // Another browser, phone lost: the password, then a recovery code instead of the app.
  const second = await passwordThenChallenge();
  await second.page.getByText('Enter the 6-digit code from your authenticator app.').waitFor();
  await useRecoveryCode(second.page, codes[0]!);
  const again = await consentAndReadClaims(second.page);
  expect(again.sub).toBe(account.id);
  // A recovery code counts as a one-time code (RFC 8176 has no value of its own for it).
  expect(again.amr).toEqual(['pwd', 'otp', 'mfa']);
  expect(again.acr).toBe('urn:portcullis:acr:mfa');

  // The person is told a recovery code was used, and how many are left.
  const notice = await smtp.waitFor((m) => JSON.stringify(m.to ?? '').includes(email) && /recovery code was used/i.test(m.subject ?? ''), 20_000);
  expect(notice.subject).toBe('A recovery code was used on your Portcullis account');
  expect(notice.text).toContain('You have 9 recovery codes left.');
  expect(second.watcher.cspViolations()).toEqual([]);
  expect(second.watcher.errors).toEqual([]);
  await second.context.close();

  // Each code works once.
  const third = await passwordThenChallenge();
  await useRecoveryCode(third.page, codes[0]!);
  await expect.poll(() => third.page.getByRole('alert').textContent()).toBe('That code is not valid. Try the current code.');
  await third.page.getByRole('heading', { name: "Confirm it's you" }).waitFor();
  expect(third.watcher.cspViolations()).toEqual([]);
  expect(third.watcher.errors).toEqual([]);
  await third.context.close();
}, 90_000);
