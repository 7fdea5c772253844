import type { Browser, Page, Response } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emailedLink, newContext, submitSignIn, watchConsole, type RelyingParty, startBrowserStage, type BrowserStage } from '../helpers/browser.js';
import { type SmtpReceiver } from '../helpers/smtp-receiver.js';
import type { TestServer } from '../helpers/test-server.js';

// Type-checked under Node's lib (no DOM): what the page.evaluate callbacks below use in the browser.
declare const document: {
  activeElement: { matches(selector: string): boolean } | null;
  documentElement: { scrollWidth: number };
  head: { append(node: unknown): void };
  createElement(tag: 'script'): { textContent: string };
};
declare const window: { inlineScriptRan?: boolean };

let stage: BrowserStage;
let t: TestServer;
let smtp: SmtpReceiver;
let rp: RelyingParty;
let browser: Browser;
const password = 'juniper kettle avalanche mosaic 38';
const newPassword = 'cobalt heron marmalade tundra 64';
let accountCount = 0;

beforeAll(async () => {
  stage = await startBrowserStage();
  ({ t, smtp, rp, browser } = stage);
});
afterAll(() => stage?.close());

/** A verified account of its own for each journey, so reset links and rate limits don't cross tests. */
async function newAccount(): Promise<string> {
  const email = `person${++accountCount}@example.com`;
  await t.container.accounts.create({ email, password, verified: true }, 'test');
  return email;
}

async function newPage(): Promise<Page> {
  return (await newContext(browser)).newPage();
}

async function openLogin(page: Page): Promise<void> {
  await page.goto(`${rp.url}/login`);
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
}

async function openRegister(page: Page): Promise<void> {
  await openLogin(page);
  await page.getByRole('link', { name: 'Create an account' }).click();
  await page.getByRole('heading', { name: 'Create your account' }).waitFor();
}

async function openForgot(page: Page): Promise<void> {
  await openLogin(page);
  await page.getByRole('link', { name: 'Forgot your password?' }).click();
  await page.getByRole('heading', { name: 'Reset your password' }).waitFor();
}

/** "Forgot your password?" through the pages, then the emailed link: the page that asks for the new password. */
async function openReset(page: Page, email: string): Promise<void> {
  await openForgot(page);
  await page.getByLabel('Email', { exact: true }).fill(email);
  const before = smtp.messages.length;
  await page.getByRole('button', { name: 'Send reset link' }).click();
  await page.getByRole('heading', { name: 'Check your email' }).waitFor();
  await page.goto(await emailedLink(smtp, email, '/reset-password', before));
  await page.getByRole('heading', { name: 'Choose a new password' }).waitFor();
}

async function openAccountPassword(page: Page, email: string): Promise<void> {
  await page.goto(`${t.issuer}/account`);
  await submitSignIn(page, { email, password });
  await page.getByRole('heading', { name: 'Your account' }).waitFor();
  await page.getByRole('link', { name: 'Password' }).click();
  await page.getByRole('heading', { name: 'Change password' }).waitFor();
}

/** Every visible form control is found by its label text, and that label leads to this very control. */
async function expectEveryInputLabelled(page: Page): Promise<string[]> {
  const inputs = page.locator('input:not([type=hidden]), select, textarea');
  const count = await inputs.count();
  expect(count, `${page.url()} has form fields`).toBeGreaterThan(0);
  const labels: string[] = [];
  for (let i = 0; i < count; i++) {
    const input = inputs.nth(i);
    const label = await input.evaluate((el) => (el as unknown as { labels: ArrayLike<{ textContent: string | null }> | null }).labels?.[0]?.textContent?.replace(/\s+/g, ' ').trim() ?? '');
    expect(label, `${page.url()}: ${await input.evaluate((el) => el.outerHTML)} has a label`).not.toBe('');
    const found = page.getByLabel(label, { exact: true });
    expect(await found.count(), `one field labelled "${label}"`).toBe(1);
    expect(await found.evaluate((el, other) => el === other, await input.elementHandle()), `"${label}" labels its own field`).toBe(true);
    labels.push(label);
  }
  return labels;
}

/** The field is aria-invalid and aria-describedby names a visible element that says `message`. */
async function expectFieldError(page: Page, label: string, message: string): Promise<void> {
  const field = page.getByLabel(label, { exact: true });
  expect(await field.getAttribute('aria-invalid'), `${label} is aria-invalid`).toBe('true');
  const describedBy = (await field.getAttribute('aria-describedby'))?.split(/\s+/) ?? [];
  const texts = await Promise.all(describedBy.map(async (id) => {
    const element = page.locator(`[id="${id}"]`);
    return (await element.isVisible()) ? (await element.textContent())?.trim() : undefined;
  }));
  expect(texts.some((text) => text?.includes(message)), `${label} is described by the visible error "${message}": ${JSON.stringify(texts)}`).toBe(true);
}

/** Presses Tab until the focused element matches `selector`; fails after `max` presses. */
async function tabTo(page: Page, selector: string, max = 20): Promise<number> {
  for (let presses = 0; presses <= max; presses++) {
    if (await page.evaluate((s) => document.activeElement?.matches(s) ?? false, selector)) return presses;
    await page.keyboard.press('Tab');
  }
  throw new Error(`Tab never reached ${selector} on ${page.url()}`);
}

describe('labels', () => {
  it('labels every field on the login, register, forgot, reset and account pages', async () => {
    const email = await newAccount();
    const page = await newPage();
    await openLogin(page);
    expect(await expectEveryInputLabelled(page)).toEqual(['Email', 'Password', 'Keep me signed in on this device']);
    await openRegister(page);
    // The altcha widget's checkbox is labelled too (once the widget has rendered).
    await page.getByLabel(/not a robot/).waitFor();
    expect(await expectEveryInputLabelled(page)).toEqual(['Name (optional)', 'Email', 'Password', expect.stringMatching(/not a robot/)]);
    await openForgot(page);
    expect(await expectEveryInputLabelled(page)).toEqual(['Email']);
    await openReset(page, email);
    expect(await expectEveryInputLabelled(page)).toEqual(['New password']);
    await page.context().close();

    const account = await newPage();
    await openAccountPassword(account, email);
    expect(await expectEveryInputLabelled(account)).toEqual(['Current password', 'New password', 'Sign out of all other sessions']);
    await account.getByRole('link', { name: 'Profile' }).click();
    await account.getByRole('heading', { name: 'Your account' }).waitFor();
    expect(await expectEveryInputLabelled(account)).toEqual(['Name (optional)']);
    await account.getByRole('link', { name: 'Email address' }).click();
    await account.getByRole('heading', { name: 'Change email address' }).waitFor();
    expect(await expectEveryInputLabelled(account)).toEqual(['New email address', 'Current password']);
    await account.context().close();
  }, 60_000);
});

describe('errors', () => {
  it('marks each invalid field and points it at its visible error', async () => {
    const email = await newAccount();
    const page = await newPage();

    await openLogin(page);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.locator('#email-error').waitFor();
    await expectFieldError(page, 'Email', 'Enter your email address.');
    await expectFieldError(page, 'Password', 'Enter your password.');

    await openRegister(page);
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.locator('#email-error').waitFor();
    await expectFieldError(page, 'Email', 'Enter your email address.');
    await expectFieldError(page, 'Password', 'Enter your password.');
    // A field that was fine is not marked.
    expect(await page.getByLabel('Name (optional)').getAttribute('aria-invalid')).toBeNull();

    await openForgot(page);
    await page.getByRole('button', { name: 'Send reset link' }).click();
    await page.locator('#email-error').waitFor();
    await expectFieldError(page, 'Email', 'Enter your email address.');

    await openReset(page, email);
    await page.getByRole('button', { name: 'Set new password' }).click();
    await page.locator('#password-error').waitFor();
    await expectFieldError(page, 'New password', 'Enter your password.');
    // A password the policy refuses is explained on the field too.
    await page.getByLabel('New password').fill('short');
    await page.getByRole('button', { name: 'Set new password' }).click();
    await page.locator('#password-error').filter({ hasText: 'Use at least 15 characters.' }).waitFor();
    await expectFieldError(page, 'New password', 'Use at least 15 characters.');
    await page.context().close();

    const account = await newPage();
    await openAccountPassword(account, email);
    await account.getByRole('button', { name: 'Change password' }).click();
    await account.locator('#current-error').waitFor();
    await expectFieldError(account, 'Current password', 'Enter your password.');
    await expectFieldError(account, 'New password', 'Enter your password.');
    await account.getByLabel('Current password').fill('not my password at all');
    await account.getByLabel('New password').fill(newPassword);
    await account.getByRole('button', { name: 'Change password' }).click();
    await account.locator('#current-error').filter({ hasText: 'The current password is incorrect.' }).waitFor();
    await expectFieldError(account, 'Current password', 'The current password is incorrect.');
    await account.getByRole('link', { name: 'Email address' }).click();
    await account.getByRole('button', { name: 'Change email address' }).click();
    await account.locator('#email-error').waitFor();
    await expectFieldError(account, 'New email address', 'Enter your email address.');
    await expectFieldError(account, 'Current password', 'Enter your password.');
    await account.context().close();
  }, 60_000);
});

describe('keyboard', () => {
  it('signs in with Tab, typing and Enter alone', async () => {
    const email = await newAccount();
    const page = await newPage();
    await openLogin(page);
    await tabTo(page, '#email');
    await page.keyboard.type(email);
    expect(await tabTo(page, '#password', 1)).toBe(1);
    await page.keyboard.type(password);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Allow access' }).waitFor();
    await tabTo(page, 'button[type=submit]');
    await page.keyboard.press('Enter');
    await page.waitForURL(`${rp.url}/callback?**`);
    await page.context().close();
  }, 60_000);

  it('registers with the keyboard, ticking the CAPTCHA with Space', async () => {
    const page = await newPage();
    await openRegister(page);
    await tabTo(page, '#name');
    await page.keyboard.type('Keyboard User');
    expect(await tabTo(page, '#email', 1)).toBe(1);
    await page.keyboard.type('keyboard.user@example.com');
    expect(await tabTo(page, '#password', 1)).toBe(1);
    await page.keyboard.type(newPassword);
    await tabTo(page, 'altcha-widget input[type=checkbox]');
    await page.keyboard.press('Space');
    await page.locator('altcha-widget [data-state="verified"]').waitFor({ timeout: 30_000 });
    await tabTo(page, 'button[type=submit]');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Check your email' }).waitFor();
    await page.context().close();
  }, 60_000);

  it('asks for a reset and sets the new password with the keyboard', async () => {
    const email = await newAccount();
    const page = await newPage();
    await openForgot(page);
    await tabTo(page, '#email');
    await page.keyboard.type(email);
    const before = smtp.messages.length;
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Check your email' }).waitFor();
    await page.goto(await emailedLink(smtp, email, '/reset-password', before));
    await tabTo(page, '#password');
    await page.keyboard.type(newPassword);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Password changed' }).waitFor();
    await page.context().close();
  }, 60_000);

  it('changes the password on /account with the keyboard', async () => {
    const email = await newAccount();
    const page = await newPage();
    await openAccountPassword(page, email);
    await tabTo(page, '#current');
    await page.keyboard.type(password);
    expect(await tabTo(page, '#password', 1)).toBe(1);
    await page.keyboard.type(newPassword);
    await page.keyboard.press('Enter');
    await page.getByRole('status').filter({ hasText: 'Your password was changed.' }).waitFor();
    await page.context().close();
  }, 60_000);
});

describe('content security policy', () => {
  it('serves no script without the response nonce, and the policy blocks one that tries', async () => {
    const email = await newAccount();
    const page = await newPage();
    const watcher = watchConsole(page);
    const documents: Promise<{ url: string; csp: string; html: string }>[] = [];
    page.on('response', (response: Response) => {
      if (response.request().resourceType() !== 'document' || !response.url().startsWith(t.issuer) || response.status() >= 300 && response.status() < 400) return;
      documents.push((async () => ({ url: response.url(), csp: (await response.headerValue('content-security-policy')) ?? '', html: await response.text() }))());
    });

    await openLogin(page);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click(); // the 400 page with errors too
    await page.locator('#email-error').waitFor();
    await openRegister(page);
    await openReset(page, email);
    await page.context().close();
    const account = await newPage();
    account.on('response', (response: Response) => {
      if (response.request().resourceType() !== 'document' || !response.url().startsWith(`${t.issuer}/account`) || response.status() !== 200) return;
      documents.push((async () => ({ url: response.url(), csp: (await response.headerValue('content-security-policy')) ?? '', html: await response.text() }))());
    });
    await openAccountPassword(account, email);

    const pages = await Promise.all(documents);
    expect(pages.map((p) => new URL(p.url).pathname)).toEqual(expect.arrayContaining(['/forgot-password', '/reset-password', '/account', '/account/password']));
    for (const { url, csp, html } of pages) {
      const nonce = /'nonce-([^']+)'/.exec(csp)?.[1];
      expect(nonce, `${url} has a CSP nonce`).toBeTruthy();
      expect(csp).not.toMatch(/unsafe-inline|unsafe-eval/);
      for (const tag of html.match(/<script\b[^>]*>/gi) ?? []) expect(tag, `${url}: every script carries this response's nonce`).toContain(`nonce="${nonce}"`);
      expect(html, `${url}: no inline event handlers`).not.toMatch(/<[^>]+\son[a-z]+\s*=/i);
      expect(html, `${url}: no inline styles`).not.toMatch(/<[^>]+\sstyle\s*=/i);
    }
    expect(watcher.cspViolations()).toEqual([]);

    // The policy is live: an injected inline script is refused, and the watcher notices.
    const page2 = await account.context().newPage();
    const watcher2 = watchConsole(page2);
    await page2.goto(`${t.issuer}/account/password`);
    await page2.evaluate(() => {
      const script = document.createElement('script');
      script.textContent = 'window.inlineScriptRan = true';
      document.head.append(script);
    });
    await expect.poll(() => watcher2.cspViolations().length).toBeGreaterThan(0);
    expect(await page2.evaluate(() => window.inlineScriptRan)).toBeUndefined();
    await account.context().close();
  }, 60_000);
});

describe('layout', () => {
  it('screenshots the login and register pages on a phone and on a desktop', async () => {
    for (const [width, height] of [[375, 812], [1280, 800]] as const) {
      const context = await newContext(browser, { viewport: { width, height } });
      const page = await context.newPage();
      await openLogin(page);
      // Nothing sticks out sideways: no horizontal scrolling at either width.
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(width);
      const card = (await page.locator('main').boundingBox())!;
      expect(card.x).toBeGreaterThanOrEqual(0);
      expect(card.x + card.width).toBeLessThanOrEqual(width);
      await page.screenshot({ path: `/tmp/portcullis-login-${width}.png`, fullPage: true });
      // The register page too: the longest form, with the strength meter and the altcha widget.
      await page.getByRole('link', { name: 'Create an account' }).click();
      await page.getByLabel(/not a robot/).waitFor();
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(width);
      await page.screenshot({ path: `/tmp/portcullis-register-${width}.png`, fullPage: true });
      await context.close();
    }
  }, 60_000);
});
