/**
 * Shared pieces for the hosted-account integration tests: a server wired to a real SMTP
 * receiver, relying-party clients driven by openid-client, form helpers for the hosted pages,
 * a local Pwned Passwords range API, and readers for audit events and emailed links.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { solveChallenge, type Challenge } from 'altcha-lib';
import { deriveKey } from 'altcha-lib/algorithms/sha';
import * as oidc from 'openid-client';
import { generate } from 'otplib';
import { expect, vi } from 'vitest';
import { BrowserAgent, formAction, type PageResponse } from './browser-agent.js';
import { startSmtpReceiver, type ParsedMail, type SmtpReceiver } from './smtp-receiver.js';
import { startTestServer, type TestServer } from './test-server.js';

export const redirectUri = 'http://127.0.0.1:8765/callback';

export interface AccountsServer { t: TestServer; mail: SmtpReceiver; close(): Promise<void> }

/** The whole app with a real SMTP receiver; CAPTCHA off unless the overrides turn it on. */
export async function startAccountsServer(overrides: Record<string, unknown> = {}): Promise<AccountsServer> {
  const mail = await startSmtpReceiver();
  const t = await startTestServer({ smtpUrl: mail.url, captcha: { provider: 'none' }, ...overrides });
  return { t, mail, async close() { await t.close(); await mail.close(); } };
}

/** A unique address per test, so tests sharing a server never see each other's mail or locks. */
export function uniqueEmail(label: string): string {
  return `${label}.${randomBytes(4).toString('hex')}@example.test`;
}

/** A passphrase the NIST policy accepts: long, random, unrelated to any test address. */
export function strongPassword(): string {
  return `Quiet ${randomBytes(9).toString('base64url')} harbour lanterns`;
}

/** An account created directly (no policy, no mail), for tests about what comes after sign-up. */
export async function createAccount(t: TestServer, options: { email?: string; password?: string; verified?: boolean; name?: string } = {}) {
  const email = options.email ?? uniqueEmail('user');
  const password = options.password ?? strongPassword();
  const account = await t.container.accounts.create({ email, password, name: options.name, verified: options.verified ?? true }, 'test');
  return { id: account.id, email, password };
}

/** A web client (confidential, refresh tokens) and its openid-client configuration. */
export async function createRelyingParty(t: TestServer, options: { allowUnverifiedEmail?: boolean; name?: string } = {}) {
  const { client, secret } = await t.container.clients.create({
    name: options.name ?? 'Test app', type: 'web', redirectUris: [redirectUri], allowUnverifiedEmail: options.allowUnverifiedEmail,
  }, 'test');
  const config = await oidc.discovery(new URL(t.issuer), client.clientId, {}, oidc.ClientSecretBasic(secret!), { execute: [oidc.allowInsecureRequests] });
  return { clientId: client.clientId, config };
}

/** A fresh authorization request with PKCE, state and nonce. */
export async function authorizationRequest(config: oidc.Configuration, params: Record<string, string> = {}) {
  const codeVerifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri, scope: 'openid email', state, nonce,
    code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier), code_challenge_method: 'S256', ...params,
  });
  return {
    url,
    /** Redeems the callback the browser was sent to. */
    redeem: (callback: URL) => oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: codeVerifier, expectedState: state, expectedNonce: nonce }),
  };
}

/** The userinfo claims for a token response (ID tokens carry scope claims only without an access token: OIDC Core §5.4). */
export function userInfo(config: oidc.Configuration, tokens: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers) {
  return oidc.fetchUserInfo(config, tokens.access_token, tokens.claims()!.sub);
}

/** Follows a URL to the page it settles on (the login page, for an authorization request). */
export function openPage(agent: BrowserAgent, url: string | URL): Promise<PageResponse> {
  return agent.follow(url, redirectUri);
}

const entities: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'", '#x27': "'" };
const decode = (text: string | undefined) => text?.replace(/&(amp|lt|gt|quot|#39|#x27);/g, (_whole, name: string) => entities[name]!);

/** The hidden inputs of the form whose action is `action`, as a browser would post them. */
function hiddenFields(html: string, action: string): Record<string, string> {
  const start = html.indexOf(`action="${action}"`);
  const form = html.slice(start, html.indexOf('</form>', start));
  return Object.fromEntries([...form.matchAll(/type="hidden" name="([\w-]+)" value="([^"]*)"/g)].map((m) => [m[1]!, decode(m[2])!]));
}

/** Posts the first form whose action contains `fragment` with its hidden fields (CSRF token included) and `fields`. */
export async function submitForm(agent: BrowserAgent, page: PageResponse, fragment: string, fields: Record<string, string>, headers?: Record<string, string>): Promise<PageResponse> {
  const action = formAction(page.html, fragment);
  if (!action) throw new Error(`no form with action ${fragment} on ${page.url.href} (${page.status}): ${page.html.slice(0, 400)}`);
  return agent.request(new URL(action, page.url), { form: { ...hiddenFields(page.html, action), ...fields }, headers });
}

/** Posts the login form. */
export function submitLogin(agent: BrowserAgent, page: PageResponse, credentials: { email: string; password: string; remember?: boolean }, extra: Record<string, string> = {}, headers?: Record<string, string>) {
  const { remember, ...rest } = credentials;
  return submitForm(agent, page, '/login', { ...rest, ...(remember ? { remember: 'on' } : {}), ...extra }, headers);
}

/**
 * After a successful form POST (303): follows the redirects, approves consent if asked, and
 * returns the relying party's callback URL.
 */
export async function finishAtCallback(agent: BrowserAgent, posted: PageResponse): Promise<URL> {
  expect(posted.status, posted.html.slice(0, 300)).toBe(303);
  let page = await agent.follow(posted.location!, redirectUri);
  for (let step = 0; step < 3 && !page.location?.href.startsWith(redirectUri); step++) {
    const confirm = await submitForm(agent, page, '/confirm', {});
    page = await agent.follow(confirm.location!, redirectUri);
  }
  expect(page.location?.href.startsWith(redirectUri), page.html.slice(0, 300)).toBe(true);
  return page.location!;
}

/** Signs in through the hosted pages for an authorization request and redeems the code. */
export async function signInForTokens(agent: BrowserAgent, config: oidc.Configuration, credentials: { email: string; password: string; remember?: boolean }, params: Record<string, string> = {}) {
  const request = await authorizationRequest(config, params);
  const login = await openPage(agent, request.url);
  const callback = await finishAtCallback(agent, await submitLogin(agent, login, credentials));
  return request.redeem(callback);
}

/** Signs in to the built-in account pages (/account): ends on the page that was asked for. */
export async function signInToAccount(agent: BrowserAgent, origin: string, credentials: { email: string; password: string; remember?: boolean }, path = '/account'): Promise<PageResponse> {
  const login = await agent.follow(new URL(path, origin));
  expect(formAction(login.html, '/login'), login.html.slice(0, 300)).toBeDefined();
  const posted = await submitLogin(agent, login, credentials);
  expect(posted.status, posted.html.slice(0, 300)).toBe(303);
  return agent.follow(posted.location!);
}

/** A signed-out visitor's first answer on an account or console page: off to the account client's authorization request, with PKCE. */
export function expectSentToSignIn(response: PageResponse): void {
  expect(response.status).toBe(302);
  expect(response.location!.pathname).toBe('/auth');
  expect(response.location!.searchParams.get('client_id')).toBe('portcullis-account');
  expect(response.location!.searchParams.get('code_challenge_method')).toBe('S256');
}

/** The message in the page's alert banner (form error or error page), as the person reads it. */
export function alertText(html: string): string | undefined {
  return decode(/role="alert">([^<]+)</.exec(html)?.[1]);
}

/** The error shown under a form field, as the person reads it. */
export function fieldError(html: string, field: string): string | undefined {
  return decode(new RegExp(`id="${field}-error">([^<]+)<`).exec(html)?.[1]);
}

/** The page with everything per-request blanked out, for "looks identical" comparisons. */
export function normalisePage(html: string, ...volatile: string[]): string {
  let out = html.replace(/name="csrf" value="[^"]*"/g, 'name="csrf" value=""').replace(/nonce="[^"]*"/g, 'nonce=""')
    .replace(/\/interaction\/[\w-]+/g, '/interaction/UID').replace(/return=[\w-]+/g, 'return=UID').replace(/data-csrf="[\w-]+"/g, 'data-csrf="CSRF"');
  for (const value of volatile) out = out.split(value).join('VOLATILE');
  return out;
}

/** The set-cookie line for a cookie name, or undefined. */
export function setCookie(response: PageResponse, name: string): string | undefined {
  return response.headers.getSetCookie().find((line) => line.startsWith(`${name}=`));
}

/** The first message to `address` whose subject matches. */
export function mailTo(mail: SmtpReceiver, address: string, subject: RegExp): Promise<ParsedMail> {
  return mail.waitFor((message) => recipients(message).includes(address.toLowerCase()) && subject.test(message.subject ?? ''));
}

/** Every message received so far for `address`. */
export function messagesTo(mail: SmtpReceiver, address: string): ParsedMail[] {
  return mail.messages.filter((message) => recipients(message).includes(address.toLowerCase()));
}

function recipients(message: ParsedMail): string[] {
  const to = Array.isArray(message.to) ? message.to : message.to ? [message.to] : [];
  return to.flatMap((entry) => entry.value.map((address) => (address.address ?? '').toLowerCase()));
}

/** The emailed link whose path is `path`. */
export function linkIn(mail: SmtpReceiver, message: ParsedMail, path: string): URL {
  const link = mail.linksIn(message).map((href) => new URL(href)).find((url) => url.pathname === path);
  if (!link) throw new Error(`no ${path} link in "${message.subject}": ${mail.linksIn(message).join(', ')}`);
  return link;
}

/** Opens an emailed link (a GET that spends nothing) and presses its one button. */
export async function spendLink(agent: BrowserAgent, link: URL): Promise<{ page: PageResponse; done: PageResponse }> {
  const page = await agent.request(link);
  if (page.status !== 200) return { page, done: page };
  const done = await submitForm(agent, page, link.pathname, {});
  return { page, done };
}

/** An account's audit events, oldest first. */
export async function auditEvents(t: TestServer, accountId: string) {
  const rows: Array<{ type: string; ip: string | null; user_agent: string | null; client_id: string | null; details: Record<string, unknown> }> = await t.container.dataSource.query(
    `SELECT type, ip, user_agent, client_id, details FROM audit_events WHERE account_id = $1 ORDER BY id`, [accountId]);
  return rows;
}

/** The account row as stored. */
export async function accountRow(t: TestServer, email: string) {
  const account = await t.container.db.repos.accounts.findByEmail(email);
  if (!account) throw new Error(`no account ${email}`);
  return account;
}

/** Solves a fresh altcha challenge from the server, as the widget would, and returns the `altcha` field. */
export async function solveAltcha(origin: string): Promise<string> {
  const challenge = await (await fetch(new URL('/captcha/challenge', origin))).json() as Challenge;
  const solution = await solveChallenge({ challenge, deriveKey });
  if (!solution) throw new Error('no altcha solution');
  return Buffer.from(JSON.stringify({ challenge: { parameters: challenge.parameters, signature: challenge.signature }, solution })).toString('base64');
}

/**
 * A local Pwned Passwords range API (GET /range/{prefix}) that knows `breached` passwords and
 * pads every answer with zero-count suffixes, as the real one does with Add-Padding.
 */
export async function startHibpServer(breached: string[]) {
  const corpus = new Map<string, string[]>();
  for (const password of breached) {
    const digest = createHash('sha1').update(password.normalize('NFKC')).digest('hex').toUpperCase();
    corpus.set(digest.slice(0, 5), [...(corpus.get(digest.slice(0, 5)) ?? []), digest.slice(5)]);
  }
  const prefixes: string[] = [];
  const server = http.createServer((req, res) => {
    const prefix = /^\/range\/([0-9A-F]{5})$/i.exec(req.url ?? '')?.[1]?.toUpperCase();
    if (!prefix) { res.writeHead(404).end(); return; }
    prefixes.push(prefix);
    const lines = (corpus.get(prefix) ?? []).map((suffix) => `${suffix}:42`);
    for (let i = 0; i < 5; i++) lines.push(`${randomBytes(18).toString('hex').slice(0, 35).toUpperCase()}:0`);
    res.writeHead(200, { 'content-type': 'text/plain' }).end(lines.join('\r\n'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    /** The 5-character prefixes asked for: all the API ever learns. */
    prefixes,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

/**
 * A browser behind a TLS-terminating proxy: requests for the (https) issuer go to the loopback
 * server with X-Forwarded-Proto: https, as a trusted proxy would send them.
 */
export class ProxiedBrowserAgent extends BrowserAgent {
  constructor(private readonly issuer: string, private readonly origin: string) {
    super();
  }

  override request(input: string | URL, init: { method?: string; form?: Record<string, string>; headers?: Record<string, string> } = {}): Promise<PageResponse> {
    const url = new URL(input);
    // The proxy's public names: the issuer's, and the Host the browser sent (absolute redirects use it).
    const proxied = url.protocol === 'https:' && [new URL(this.issuer).host, new URL(this.origin).host].includes(url.host);
    const target = proxied ? new URL(`${url.pathname}${url.search}`, this.origin) : url;
    // A proxy passes the public host on (X-Forwarded-Host): the server answers only for the issuer's.
    const forwarded = { 'x-forwarded-proto': 'https', 'x-forwarded-host': new URL(this.issuer).host };
    return super.request(target, { ...init, headers: { ...forwarded, ...init.headers } });
  }
}

// ---- second factors (MFA tests)

/** The current 6-digit code of a TOTP seed, on this process's clock (which tests may move). */
export function totpCode(secret: string): Promise<string> {
  return generate({ secret, epoch: Math.floor(Date.now() / 1000) });
}

/** Moves the (faked, shared) clock forward: a later TOTP step, the end of a resend gap. */
export function advanceClock(seconds: number): void {
  vi.setSystemTime(Date.now() + seconds * 1000);
}

/** A TOTP code from a time step later than any accepted before (the clock is faked). */
export function nextTotp(secret: string): Promise<string> {
  advanceClock(30);
  return totpCode(secret);
}

/** The base32 key an enrolment page shows next to its QR code, spaces removed. */
export function totpKeyOn(html: string): string {
  const key = /<code class="secret">([A-Z2-7 ]+)<\/code>/.exec(html)?.[1];
  if (!key) throw new Error(`no TOTP key on the page: ${html.slice(0, 300)}`);
  return key.replace(/ /g, '');
}

/** The recovery codes listed on a "save your recovery codes" page. */
export function recoveryCodesOn(html: string): string[] {
  return [...html.matchAll(/<li><code>([a-z2-9]{5}-[a-z2-9]{5})<\/code><\/li>/g)].map((m) => m[1]!);
}

const readCodeMails = new WeakSet<ParsedMail>();

/** The 6-digit code of the next "verification code" email to `address` not read before by this helper. */
export async function emailedCode(mail: SmtpReceiver, address: string): Promise<string> {
  const message = await mail.waitFor((m) => !readCodeMails.has(m) && recipients(m).includes(address.toLowerCase()) && /verification code/.test(m.subject ?? ''));
  readCodeMails.add(message);
  const code = /^\s*(\d{6})\s*$/m.exec(message.text ?? '')?.[1];
  if (!code) throw new Error(`no code in "${message.subject}": ${message.text}`);
  return code;
}

export interface SmsWebhook {
  /** http://127.0.0.1:PORT/sms, for the `sms` config section. */
  url: string;
  /** Every text accepted: only requests whose signature and timestamp checked out land here. */
  texts: Array<{ to: string; text: string }>;
  /** Requests refused for a missing, wrong or stale signature. */
  refused: number;
  /** The code of the newest text to `to`. */
  lastCode(to: string): string;
  /**
   * The code of the next text to `to` not returned by nextCode before, waiting (bounded) for the outbox to
   * deliver it.
   */
  nextCode(to: string, timeoutMs?: number): Promise<string>;
  close(): Promise<void>;
}

/**
 * A loopback receiver for the `webhook` SMS provider that verifies each request as a real one
 * would: HMAC-SHA256 of "<timestamp>.<body>" under the shared secret, compared in constant time,
 * and a timestamp within five minutes. Refused requests get 401, so the server sees a failed send.
 */
export async function startSmsWebhook(secret: string): Promise<SmsWebhook> {
  const state = { texts: [] as Array<{ to: string; text: string }>, refused: 0 };
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => { body += chunk; });
    req.on('end', () => {
      const timestamp = String(req.headers['x-portcullis-timestamp'] ?? '');
      const signature = Buffer.from(String(req.headers['x-portcullis-signature'] ?? ''));
      const expected = Buffer.from(`sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`);
      const fresh = Math.abs(Date.now() / 1000 - Number(timestamp)) <= 300;
      if (req.method !== 'POST' || req.url !== '/sms' || !fresh || signature.length !== expected.length || !timingSafeEqual(signature, expected)) {
        state.refused++;
        res.writeHead(401).end();
        return;
      }
      const { to, text } = JSON.parse(body) as { to: string; text: string };
      state.texts.push({ to, text });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const read = new Map<string, number>();
  return Object.assign(state, {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/sms`,
    async nextCode(to: string, timeoutMs = 10_000): Promise<string> {
      const deadline = Date.now() + timeoutMs;
      const seen = read.get(to) ?? 0;
      for (;;) {
        const texts = state.texts.filter((message) => message.to === to);
        if (texts.length > seen) {
          read.set(to, texts.length);
          return /^(\d{6}) /.exec(texts.at(-1)!.text)![1]!;
        }
        if (Date.now() > deadline) {
          throw new Error(`no new text to ${to} within ${timeoutMs} ms: ${JSON.stringify(state.texts)}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    },
    lastCode(to: string): string {
      const text = state.texts.filter((message) => message.to === to).at(-1)?.text;
      const code = text && /^(\d{6}) /.exec(text)?.[1];
      if (!code) throw new Error(`no text with a code to ${to}: ${JSON.stringify(state.texts)}`);
      return code;
    },
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  });
}

/** A phone number in E.164 no other test uses (the UK's drama range, +44 7700 900xxx). */
export function uniquePhone(): string {
  return `+447700${String(randomBytes(3).readUIntBE(0, 3) % 1_000_000).padStart(6, '0')}`;
}

/**
 * A JSON POST from the browser, as views/static/webauthn.js sends it: the agent's cookies, the
 * page's CSRF token in x-csrf-token, and any cookies the answer sets kept by the agent.
 */
export async function postJson(agent: BrowserAgent, url: URL, body: unknown, csrf?: string): Promise<{ status: number; headers: Headers; json: Record<string, unknown> }> {
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
  if (csrf !== undefined) headers['x-csrf-token'] = csrf;
  const cookie = agent.cookieHeader(url);
  if (cookie) headers.cookie = cookie;
  const response = await fetch(url, { method: 'POST', headers, body: JSON.stringify(body), redirect: 'manual' });
  // BrowserAgent only speaks forms; its cookie jar is private, so reach it the way a subclass can't.
  (agent as unknown as { store(headers: Headers): void }).store(response.headers);
  const text = await response.text();
  return { status: response.status, headers: response.headers, json: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
}

/** The CSRF token a page hands to its passkey button (data-csrf), sent as x-csrf-token. */
export function passkeyCsrf(html: string): string {
  const token = /data-csrf="([^"]+)"/.exec(html)?.[1];
  if (!token) throw new Error(`no passkey button on the page: ${html.slice(0, 300)}`);
  return token;
}

/** An accounts server whose breach check asks a local HIBP stand-in that knows `breached`. */
export async function startAccountsServerWithBreaches(breached: string[]) {
  const hibp = await startHibpServer(breached);
  const server = await startAccountsServer({ passwordPolicy: { hibp: { enabled: true, baseUrl: hibp.baseUrl } } });
  return { ...server, hibp, async close() { await server.close(); await hibp.close(); } };
}
