import http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as oidc from 'openid-client';
import { chromium, type Browser, type BrowserContext, type ConsoleMessage, type Page } from 'playwright-core';
import { startSmtpReceiver, type SmtpReceiver } from './smtp-receiver.js';
import { startTestServer, type TestServer } from './test-server.js';

/** Headless Debian Chromium, with nothing that would reach the network on its own. */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run', '--disable-quic'],
  });
}

/**
 * A fresh browser profile (its own cookies: one person's browser). Actions fail after 20 s, well
 * inside a test's 60 s, so a stuck step reports its own line instead of a bare test timeout.
 */
export async function newContext(browser: Browser, options: Parameters<Browser['newContext']>[0] = {}): Promise<BrowserContext> {
  const context = await browser.newContext(options);
  context.setDefaultTimeout(20_000);
  return context;
}

/**
 * Collects a page's console errors, uncaught exceptions and failed sub-resource loads, so a test can
 * assert that no Content-Security-Policy violation ("Refused to load/execute/apply …") or script
 * error happened. Resource errors are kept by URL (the console line doesn't name it); the
 * browser's automatic /favicon.ico probe is left out.
 */
export function watchConsole(page: Page): { errors: string[]; cspViolations: () => string[] } {
  const errors: string[] = [];
  page.on('console', (message: ConsoleMessage) => {
    if (/^Failed to load resource/.test(message.text())) return;
    if (message.type() === 'error' || /Refused to/.test(message.text())) errors.push(`${page.url()}: ${message.text()}`);
  });
  page.on('pageerror', (error) => errors.push(`${page.url()}: uncaught ${error.name}: ${error.message}`));
  page.on('response', (response) => {
    const type = response.request().resourceType();
    if (response.status() >= 400 && type !== 'document' && !response.url().endsWith('/favicon.ico')) errors.push(`${type} ${response.url()}: ${response.status()}`);
  });
  page.on('requestfailed', (request) => errors.push(`${request.resourceType()} ${request.url()}: ${request.failure()?.errorText}`));
  return { errors, cspViolations: () => errors.filter((text) => /Refused to|Content Security Policy/i.test(text)) };
}

/** The link (containing `path`) of the next email to `to` that has one, as the person would click it. */
export async function emailedLink(smtp: SmtpReceiver, to: string, path: string, after = 0): Promise<string> {
  const mail = await smtp.waitFor((m) => smtp.messages.indexOf(m) >= after && JSON.stringify(m.to ?? '').includes(to) && smtp.linksIn(m).some((href) => href.includes(path)));
  return smtp.linksIn(mail).find((href) => href.includes(path))!;
}

/**
 * Ticks the real altcha widget ("I'm not a robot"): it fetches a challenge, solves the proof of
 * work in a same-origin worker and puts the payload in its hidden `altcha` field.
 */
export async function solveAltcha(page: Page): Promise<void> {
  // The checkbox sits under the widget's own check mark, so a person clicks its label.
  await page.getByText(/not a robot/i).click();
  await page.locator('altcha-widget [data-state="verified"]').waitFor({ timeout: 30_000 });
}

/** Fills the hosted sign-in form by its labels and presses "Sign in". */
export async function submitSignIn(page: Page, { email, password }: { email: string; password: string }): Promise<void> {
  await page.getByRole('heading', { name: 'Sign in', exact: true }).waitFor();
  await page.getByLabel('Email', { exact: true }).fill(email);
  await page.getByLabel('Password', { exact: true }).fill(password);
  // exact: the page also offers "Sign in with a passkey".
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
}

export interface RelyingParty {
  /** http://127.0.0.1:PORT */
  url: string;
  redirectUri: string;
  clientId: string;
  close(): Promise<void>;
}

interface Pending { codeVerifier: string; nonce: string }

const escape = (value: unknown) => String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function htmlPage(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escape(title)}</title></head><body><h1>${escape(title)}</h1>${body}</body></html>`;
}

/** A listening RP server whose OIDC client is attached once it is registered (its redirect URI needs the port first). */
async function listenRelyingParty(issuer: string) {
  let config: oidc.Configuration | undefined;
  const pending = new Map<string, Pending>();
  const server = http.createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      const e = error as { error?: string; error_description?: string; message?: string };
      res.writeHead(500, { 'content-type': 'text/html; charset=utf-8' });
      res.end(htmlPage('Relying party error', `<p id="error">${escape(e.error ?? e.message)}</p><p id="error-description">${escape(e.error_description ?? '')}</p>`));
    });
  });

  async function handle(req: http.IncomingMessage, res: http.ServerResponse) {
    const url = new URL(req.url ?? '/', `http://${req.headers.host}`);
    if (!config) throw new Error('relying party not configured yet');
    if (url.pathname === '/login') {
      const codeVerifier = oidc.randomPKCECodeVerifier();
      const state = oidc.randomState();
      const nonce = oidc.randomNonce();
      pending.set(state, { codeVerifier, nonce });
      const authorizationUrl = oidc.buildAuthorizationUrl(config, {
        redirect_uri: `${url.origin}/callback`, scope: 'openid email', state, nonce,
        code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier), code_challenge_method: 'S256',
      });
      res.writeHead(302, { location: authorizationUrl.href });
      return res.end();
    }
    if (url.pathname === '/callback') {
      const state = url.searchParams.get('state') ?? '';
      if (url.searchParams.has('error')) {
        res.writeHead(400, { 'content-type': 'text/html; charset=utf-8' });
        return res.end(htmlPage('Sign-in failed', `<p id="error">${escape(url.searchParams.get('error'))}</p><p id="error-description">${escape(url.searchParams.get('error_description') ?? '')}</p>`));
      }
      const expected = pending.get(state);
      if (!expected) throw new Error('unknown state');
      pending.delete(state);
      const tokens = await oidc.authorizationCodeGrant(config, url, { pkceCodeVerifier: expected.codeVerifier, expectedState: state, expectedNonce: expected.nonce });
      const idToken = tokens.claims()!;
      // OIDC Core §5.4: with an access token issued, scope claims (email) come from userinfo, not the ID token.
      const userinfo = await oidc.fetchUserInfo(config, tokens.access_token, idToken.sub);
      const claims = { ...userinfo, ...idToken };
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      return res.end(htmlPage('Signed in to the relying party', `<dl>
        <dt>sub</dt><dd data-claim="sub">${escape(claims.sub)}</dd>
        <dt>email</dt><dd data-claim="email">${escape(claims.email ?? '')}</dd>
        <dt>email_verified</dt><dd data-claim="email_verified">${escape(claims.email_verified ?? '')}</dd>
        <dt>amr</dt><dd data-claim="amr">${escape(Array.isArray(idToken.amr) ? idToken.amr.join(' ') : '')}</dd>
        <dt>acr</dt><dd data-claim="acr">${escape(idToken.acr ?? '')}</dd>
      </dl>`));
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found');
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    async configure(clientId: string, clientSecret: string) {
      config = await oidc.discovery(new URL(issuer), clientId, {}, oidc.ClientSecretBasic(clientSecret), { execute: [oidc.allowInsecureRequests] });
    },
    close() {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface ClientCredentials { clientId: string; clientSecret: string }

/**
 * A tiny relying party on loopback using openid-client: GET /login starts the code flow (PKCE S256,
 * state, nonce), GET /callback redeems the code and shows the ID token's sub, amr (space-separated)
 * and acr with the email and email_verified the RP receives (`[data-claim=…]`, from userinfo when
 * the ID token omits them).
 * Give the client's credentials, or `register`, which gets this RP's redirect URI (its port is
 * only known once it listens) and returns them.
 */
export async function startRelyingParty(options: { issuer: string } & (ClientCredentials | { register(redirectUri: string): Promise<ClientCredentials> })): Promise<RelyingParty> {
  const rp = await listenRelyingParty(options.issuer);
  const redirectUri = `${rp.url}/callback`;
  try {
    const { clientId, clientSecret } = 'register' in options ? await options.register(redirectUri) : options;
    await rp.configure(clientId, clientSecret);
    return { url: rp.url, redirectUri, clientId, close: rp.close };
  } catch (error) {
    await rp.close();
    throw error;
  }
}

/** Starts a relying party registered on the test server as a confidential web client (not first-party, so it asks for consent). */
export function startRegisteredRelyingParty(t: TestServer): Promise<RelyingParty> {
  return startRelyingParty({
    issuer: t.issuer,
    async register(redirectUri) {
      const { client, secret } = await t.container.clients.create({ name: 'Relying party', type: 'web', redirectUris: [redirectUri] }, 'test');
      return { clientId: client.clientId, clientSecret: secret! };
    },
  });
}

/** Everything a browser journey plays on: an SMTP receiver, the app wired to it, a registered relying party, Chromium. */
export interface BrowserStage { t: TestServer; smtp: SmtpReceiver; rp: RelyingParty; browser: Browser; close(): Promise<void> }

/** Starts a BrowserStage; `overrides` go to the server's configuration. */
export async function startBrowserStage(overrides: Record<string, unknown> = {}): Promise<BrowserStage> {
  const smtp = await startSmtpReceiver();
  const t = await startTestServer({ smtpUrl: smtp.url, ...overrides });
  const rp = await startRegisteredRelyingParty(t);
  const browser = await launchBrowser();
  return {
    t, smtp, rp, browser,
    async close() {
      await browser.close();
      await rp.close();
      await t.close();
      await smtp.close();
    },
  };
}
