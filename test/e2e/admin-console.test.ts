/**
 * The admin console in Chromium: an admin signs in with password and authenticator app, registers
 * a web client through the pages and reads its secret off the page; a relying party (openid-client)
 * then signs a person in with that client (authorization code + PKCE) and gets an ID token.
 */
import { generate } from 'otplib';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { launchBrowser, newContext, startRelyingParty, submitSignIn, watchConsole, type RelyingParty } from '../helpers/browser.js';
import { startSmtpReceiver, type SmtpReceiver } from '../helpers/smtp-receiver.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

// Type-checked under Node's lib (no DOM): what the page.evaluate callbacks below use in the browser.
declare const document: {
  activeElement: { textContent: string | null } | null; documentElement: { scrollWidth: number };
  querySelector(selector: string): { getBoundingClientRect(): { width: number } } | null;
};

let smtp: SmtpReceiver;
let t: TestServer;
let browser: Browser;
let rp: RelyingParty | undefined;

const admin = { email: 'ada.admin@example.com', password: 'copper lantern harbour violet 27' };
const person = { email: 'grace@example.com', password: 'orchard meridian pelican quartz 19' };
let adminSecret: string;
let personId: string;

beforeAll(async () => {
  smtp = await startSmtpReceiver();
  t = await startTestServer({ smtpUrl: smtp.url, captcha: { provider: 'none' } });
  browser = await launchBrowser();
  adminSecret = await createAdminWithAuthenticator(admin);
  personId = (await t.container.accounts.create({ ...person, verified: true }, 'test')).id;
});
afterAll(async () => {
  await browser?.close();
  await rp?.close();
  await t?.close();
  await smtp?.close();
});

/** An account holding the admin role with an authenticator app enrolled; returns the app's secret. */
async function createAdminWithAuthenticator(who: { email: string; password: string }): Promise<string> {
  const account = await t.container.accounts.create({ ...who, verified: true, roles: ['admin'] }, 'test');
  const enrolment = await t.container.mfa.startTotp(account.id, who.email);
  await t.container.mfa.confirmTotp(account.id, enrolment.factorId, await generate({ secret: enrolment.secret }), { locale: 'en' });
  return enrolment.secret;
}

/**
 * A code from the step after the current one: enrolment spent the current step, and codes are
 * accepted one step either side (RFC 6238 §5.2), so this one is both new and valid.
 */
const nextStepCode = (secret: string) => generate({ secret, epoch: Math.floor(Date.now() / 1000) + 30 });

/** Signed out, /admin leads to the hosted sign-in; password, then the authenticator app, then the console. */
async function signInToConsole(page: Page, who: { email: string; password: string }, secret: string): Promise<void> {
  await page.goto(`${t.issuer}/admin`);
  await submitSignIn(page, who);
  await page.getByRole('heading', { name: "Confirm it's you" }).waitFor();
  await page.getByLabel('Code', { exact: true }).fill(await nextStepCode(secret));
  await page.getByLabel('Code', { exact: true }).press('Enter');
  await page.getByRole('heading', { name: 'Admin console' }).waitFor();
}

/** Presses Tab until the focused element's text is `text`, as a keyboard user would; fails after 20 presses. */
async function tabTo(page: Page, text: string): Promise<void> {
  for (let presses = 0; presses < 20; presses++) {
    await page.keyboard.press('Tab');
    if ((await page.evaluate(() => document.activeElement?.textContent?.trim())) === text) return;
  }
  throw new Error(`Tab never reached "${text}" on ${page.url()}`);
}

/** Nothing sticks out sideways on a phone: no horizontal scrolling. */
const noSidewaysScroll = async (page: Page) => expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(phone.width);
const phone = { width: 375, height: 812 };

it('registers a web client in the console, whose secret a relying party then signs a person in with', async () => {
  const context = await newContext(browser, { viewport: phone });
  const page = await context.newPage();
  const watcher = watchConsole(page);

  await signInToConsole(page, admin, adminSecret);
  expect(new URL(page.url()).pathname).toBe('/admin');
  await noSidewaysScroll(page);

  const nav = page.getByRole('navigation', { name: 'Admin console' });
  await nav.getByRole('link', { name: 'Clients' }).click();
  await page.getByRole('heading', { name: 'Clients' }).waitFor();
  await page.getByRole('link', { name: 'Register a client' }).click();
  await page.getByRole('heading', { name: 'Register a client' }).waitFor();

  // The relying party's redirect URI is only known once it listens: register it from here.
  rp = await startRelyingParty({
    issuer: t.issuer,
    async register(redirectUri) {
      await page.getByLabel('Name', { exact: true }).fill('Console-registered app');
      await page.getByLabel('Web app').check();
      // A mistake first: the page says what is wrong, next to the field, and keeps the rest.
      await page.getByLabel('Redirect URIs', { exact: true }).fill('http://example.com/callback');
      await page.getByRole('button', { name: 'Register client' }).click();
      await expect.poll(() => page.getByRole('alert').textContent()).toBe('Correct the fields marked below, then try again.');
      const field = page.getByLabel('Redirect URIs', { exact: true });
      expect(await field.getAttribute('aria-invalid')).toBe('true');
      expect(await page.locator('#redirectUris-error').textContent()).toContain('http://example.com/callback is not allowed');
      expect(await page.getByLabel('Name', { exact: true }).inputValue()).toBe('Console-registered app');

      // The rest by keyboard alone.
      await field.fill(redirectUri);
      await tabTo(page, 'Register client');
      await page.keyboard.press('Enter');
      await page.getByRole('heading', { name: 'Console-registered app' }).waitFor();
      await noSidewaysScroll(page);
      const clientSecret = ((await page.locator('#client-secret').textContent()) ?? '').trim();
      const clientId = ((await page.locator('#client-id').textContent()) ?? '').trim();
      expect(clientSecret).toMatch(/^[\w-]{43}$/);
      await page.getByText('it is shown only this once').waitFor();
      return { clientId, clientSecret };
    },
  });

  // Shown once: a reload of the same page no longer has it.
  await page.reload();
  await page.getByRole('heading', { name: 'Console-registered app' }).waitFor();
  expect(await page.locator('#client-secret').count()).toBe(0);
  expect(watcher.cspViolations()).toEqual([]);
  expect(watcher.errors).toEqual([]);
  await context.close();

  // Another browser: a person signs in at the relying party, which redeems the code (PKCE) with that secret.
  const visitor = await newContext(browser);
  const rpPage = await visitor.newPage();
  const rpWatcher = watchConsole(rpPage);
  await rpPage.goto(`${rp.url}/login`);
  await submitSignIn(rpPage, person);
  await rpPage.getByRole('heading', { name: 'Allow access' }).waitFor();
  await rpPage.getByRole('button', { name: 'Allow' }).click();
  await rpPage.getByRole('heading', { name: 'Signed in to the relying party' }).waitFor();
  expect(await rpPage.locator('[data-claim=sub]').textContent()).toBe(personId);
  expect(await rpPage.locator('[data-claim=email]').textContent()).toBe(person.email);
  expect(rpWatcher.cspViolations()).toEqual([]);
  await visitor.close();
}, 90_000);

it('keeps long ids, redirect URIs, emails and audit details inside a phone screen, and widens the card on a wide one', async () => {
  // A second admin with their own authenticator: the first test spent the next-step code of the first one.
  const other = { email: 'lin.admin@example.com', password: 'saffron beacon tundra mosaic 41' };
  const otherSecret = await createAdminWithAuthenticator(other);
  const longUri = `https://a-rather-long-subdomain-for-layout-checks.tenant-0123456789abcdef.example.com/${'oauth2-callback-segment/'.repeat(6)}done`;
  const { client } = await t.container.clients.create({ name: 'Long URI app', type: 'web', redirectUris: [longUri], postLogoutRedirectUris: [longUri] }, 'test');
  const longEmail = `a.really.long.local.part.for.layout.checks.${'x'.repeat(20)}@a-very-long-domain-name-for-layout-checks.example.com`;
  await t.container.rbac.create('layout-check', 'Holds a long email', 'test');
  await t.container.accounts.create({ email: longEmail, password: 'lantern meadow copper violet 88', roles: ['layout-check'] }, 'test');

  const context = await newContext(browser, { viewport: phone });
  const page = await context.newPage();
  const watcher = watchConsole(page);
  await signInToConsole(page, other, otherSecret);

  await page.goto(`${t.issuer}/admin/clients/${client.clientId}`);
  await page.getByRole('heading', { name: 'Long URI app' }).waitFor();
  expect(await page.getByLabel('Redirect URIs', { exact: true }).inputValue()).toBe(longUri);
  await noSidewaysScroll(page);

  await page.goto(`${t.issuer}/admin/audit?type=client.created`);
  await page.getByRole('heading', { name: 'Audit log' }).waitFor();
  await page.getByText('client.created').first().waitFor();
  await noSidewaysScroll(page);

  await page.goto(`${t.issuer}/admin/roles/layout-check`);
  await page.getByRole('heading', { name: 'Role layout-check' }).waitFor();
  await page.getByRole('button', { name: `Remove ${longEmail}` }).waitFor();
  await noSidewaysScroll(page);

  // On a wide screen the console's card widens (60rem), where the sign-in pages' stays narrow (26rem).
  await page.setViewportSize({ width: 1280, height: 900 });
  expect(await page.evaluate(() => document.querySelector('main.card')!.getBoundingClientRect().width)).toBe(960);
  expect(watcher.cspViolations()).toEqual([]);
  expect(watcher.errors).toEqual([]);
  await context.close();
}, 90_000);
