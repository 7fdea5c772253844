import type { Browser, BrowserContext, CDPSession, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { newContext, submitSignIn, watchConsole, type RelyingParty, startBrowserStage, type BrowserStage } from '../helpers/browser.js';
import type { TestServer } from '../helpers/test-server.js';

/** The passkeys a virtual authenticator holds, private keys included (so a test can copy one to another browser). */
async function listCredentials(cdp: CDPSession, authenticatorId: string) {
  return (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials;
}
type Credential = Awaited<ReturnType<typeof listCredentials>>[number];

let stage: BrowserStage;
let t: TestServer;
let rp: RelyingParty;
let browser: Browser;
let counter = 0;

beforeAll(async () => {
  // The CAPTCHA is not the point here; the issuer is http://localhost:PORT, a secure context, so
  // the RP ID is 'localhost'.
  stage = await startBrowserStage({ captcha: { provider: 'none' } });
  ({ t, rp, browser } = stage);
});
afterAll(() => stage?.close());

async function newAccount(label: string) {
  const email = `${label}.${++counter}@example.com`;
  const password = `juniper ${label} lighthouse cobalt ${counter}7`;
  const account = await t.container.accounts.create({ email, password, verified: true }, 'test');
  return { id: account.id, email, password };
}

interface Device {
  context: BrowserContext;
  page: Page;
  watcher: ReturnType<typeof watchConsole>;
  /** The passkeys the virtual platform authenticator holds. */
  credentials(): Promise<Credential[]>;
}

/**
 * A fresh browser with a user-verifying platform authenticator (DevTools virtual authenticator)
 * that answers every ceremony at once, holding `credentials` (a passkey synced from elsewhere).
 */
async function openDevice(credentials: Credential[] = []): Promise<Device> {
  const context = await newContext(browser);
  const page = await context.newPage();
  const watcher = watchConsole(page);
  const cdp: CDPSession = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
  });
  for (const credential of credentials) await cdp.send('WebAuthn.addCredential', { authenticatorId, credential });
  return {
    context, page, watcher,
    credentials: () => listCredentials(cdp, authenticatorId),
  };
}

/** Opens /account through the hosted sign-in (first-party: no consent) with the password. */
async function signInToAccount(page: Page, account: { email: string; password: string }): Promise<void> {
  await page.goto(`${t.issuer}/account`);
  await submitSignIn(page, account);
  await page.waitForURL(`${t.issuer}/account`);
  await page.getByRole('heading', { name: 'Your account' }).waitFor();
}

/** On /account/security: names and adds a passkey, goes through the recovery codes, and is back on the list. */
async function addPasskey(page: Page, name: string): Promise<void> {
  await page.getByRole('link', { name: 'Security' }).click();
  await page.getByRole('heading', { name: 'Two-step sign-in' }).waitFor();
  await page.getByLabel('Name for the new passkey (optional)').fill(name);
  await page.getByRole('button', { name: 'Add a passkey or security key' }).click();

  // The first factor comes with recovery codes, shown once.
  await page.waitForURL(`${t.issuer}/account/security/codes`);
  await page.getByRole('heading', { name: 'Save your recovery codes' }).waitFor();
  const codes = await page.getByRole('list', { name: 'Save your recovery codes' }).getByRole('listitem').allTextContents();
  expect(codes).toHaveLength(10);
  expect(new Set(codes).size).toBe(10);
  await page.getByRole('button', { name: 'I have saved them, continue' }).click();

  await page.waitForURL(`${t.issuer}/account/security`);
  const factor = page.getByRole('listitem').filter({ hasText: name });
  await factor.getByText('Passkey or security key').waitFor();
  await factor.getByRole('button', { name: `Remove ${name}` }).waitFor();
}

/** Approves the relying party on the consent page and returns the claims its callback page shows. */
async function consentAndReadClaims(page: Page) {
  await page.getByRole('heading', { name: 'Allow access' }).waitFor();
  await page.getByRole('button', { name: 'Allow' }).click();
  await page.waitForURL(`${rp.url}/callback?**`);
  await page.getByRole('heading', { name: 'Signed in to the relying party' }).waitFor();
  const claim = async (name: string) => (await page.locator(`[data-claim=${name}]`).textContent()) ?? '';
  return { sub: await claim('sub'), email: await claim('email'), amr: (await claim('amr')).split(' ').filter(Boolean), acr: await claim('acr') };
}

/** The account's passkey, registered through /account/security on one device; returns that device. */
async function deviceWithPasskey(account: { email: string; password: string }, name: string): Promise<Device> {
  const device = await openDevice();
  await signInToAccount(device.page, account);
  await addPasskey(device.page, name);
  const [credential, ...others] = await device.credentials();
  expect(others).toEqual([]);
  // residentKey 'preferred' on an authenticator that can: a discoverable credential naming the account.
  expect(credential).toMatchObject({ isResidentCredential: true, rpId: 'localhost' });
  return device;
}

async function closeDevice(device: Device, expectedErrors: RegExp[] = []): Promise<void> {
  expect(device.watcher.cspViolations()).toEqual([]);
  expect(device.watcher.errors.filter((error) => !expectedErrors.some((pattern) => pattern.test(error)))).toEqual([]);
  await device.context.close();
}

it('adds a passkey on /account/security and uses it as the second factor after the password', async () => {
  const account = await newAccount('ada');
  const laptop = await deviceWithPasskey(account, 'Desk passkey');
  const [credential] = await laptop.credentials();
  await closeDevice(laptop);

  // Another browser with the same (synced) passkey signs in at the relying party.
  const phone = await openDevice([credential!]);
  const { page } = phone;
  await page.goto(`${rp.url}/login`);
  await submitSignIn(page, account);
  await page.getByRole('heading', { name: "Confirm it's you" }).waitFor();
  await page.getByText('Use your passkey or security key.').waitFor();
  await page.getByRole('button', { name: 'Use a passkey or security key' }).click();

  const claims = await consentAndReadClaims(page);
  expect(claims.sub).toBe(account.id);
  expect(claims.amr).toEqual(expect.arrayContaining(['pwd', 'mfa']));
  expect(claims.amr.filter((value) => value === 'hwk' || value === 'swk')).toHaveLength(1);
  expect(claims.acr).toBe('urn:portcullis:acr:mfa');
  // The authenticator counted the assertion the server accepted.
  expect((await phone.credentials())[0]!.signCount).toBeGreaterThan(credential!.signCount);
  await closeDevice(phone);
}, 90_000);

it('signs in passwordless with a discoverable passkey: no password typed', async () => {
  const account = await newAccount('grace');
  const laptop = await deviceWithPasskey(account, 'Laptop');
  const [credential] = await laptop.credentials();
  await closeDevice(laptop);

  const phone = await openDevice([credential!]);
  const { page } = phone;
  await page.goto(`${rp.url}/login`);
  await page.getByRole('heading', { name: 'Sign in', exact: true }).waitFor();
  await page.getByRole('button', { name: 'Sign in with a passkey' }).click();

  const claims = await consentAndReadClaims(page);
  expect(claims.sub).toBe(account.id);
  expect(claims.email).toBe(account.email);
  expect(claims.amr).toContain('mfa');
  expect(claims.amr).not.toContain('pwd');
  expect(claims.amr.filter((value) => value === 'hwk' || value === 'swk')).toHaveLength(1);
  expect(claims.acr).toBe('urn:portcullis:acr:mfa');
  await closeDevice(phone);
}, 90_000);

it('a passkey removed on /account/security no longer signs in', async () => {
  const account = await newAccount('hedy');
  const laptop = await deviceWithPasskey(account, 'Old key');
  const [credential] = await laptop.credentials();

  // Removal needs a sign-in from the last mfa.recentAuthSeconds (300 s): this one just happened.
  const { page: security } = laptop;
  await security.getByRole('button', { name: 'Remove Old key' }).click();
  await security.getByRole('status').filter({ hasText: 'The second factor was removed.' }).waitFor();
  await security.getByText('You have no second factor yet.').waitFor();
  expect(await security.getByRole('button', { name: 'Remove Old key' }).count()).toBe(0);
  await closeDevice(laptop);

  // The authenticator still holds the passkey, but the server no longer knows it.
  const phone = await openDevice([credential!]);
  const { page } = phone;
  await page.goto(`${rp.url}/login`);
  await page.getByRole('heading', { name: 'Sign in', exact: true }).waitFor();
  await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
  await page.locator('#webauthn-status.error').filter({ hasText: 'Your passkey or security key could not be verified. Try again.' }).waitFor();
  expect(page.url()).toMatch(new RegExp(`^${t.issuer}/interaction/`));
  await expect.poll(() => page.getByRole('button', { name: 'Sign in with a passkey' }).isEnabled()).toBe(true);

  // The password alone now completes the sign-in: no second factor is asked for.
  await submitSignIn(page, account);
  const claims = await consentAndReadClaims(page);
  expect(claims.sub).toBe(account.id);
  expect(claims.amr).toEqual(['pwd']);
  expect(claims.acr).toBe('urn:portcullis:acr:pwd');
  // The refused assertion is the one expected failed request.
  await closeDevice(phone, [/^fetch http:\/\/localhost:\d+\/interaction\/[^/]+\/passkey: 400$/]);
}, 90_000);
