import { createHash, randomBytes } from 'node:crypto';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import { basicAuth, type HttpClient, type HttpResponse } from './http-client.js';

/** Where the server listens and how it is reached: Portcullis sits behind a (simulated) TLS proxy. */
export interface Target {
  /** The public issuer, e.g. https://127.0.0.1:PORT (production requires https). */
  issuer: string;
  /** Where requests really go: http://127.0.0.1:PORT (the first instance when there are several). */
  origin: string;
  /**
   * Every instance's origin. With several, requests take them in turn, so one sign-in flow or one
   * refresh-token chain crosses instances: state made on one must be honoured by the other.
   */
  origins: string[];
  /** True when the loader plays the trusted proxy: X-Forwarded-Proto/-For on every request. */
  proxied: boolean;
}

export interface WebClient { clientId: string; secret: string; redirectUri: string }
export interface Credentials { email: string; password: string }

let turn = 0;
/** The instance the next request goes to: the instances in turn. */
export function nextOrigin(target: Target): string {
  return target.origins.length > 1 ? target.origins[turn++ % target.origins.length]! : target.origin;
}

/** Maps a URL the server printed (issuer-based, relative, or an instance's) to the instance the next request goes to. */
export function toOrigin(target: Target, location: string | URL, base?: URL): URL {
  const url = new URL(location, base ?? target.origin);
  const issuer = new URL(target.issuer);
  if (url.origin !== issuer.origin && !target.origins.includes(url.origin)) return url;
  return new URL(`${url.pathname}${url.search}`, nextOrigin(target));
}

/**
 * What a TLS-terminating proxy sends on: the public host name (the issuer's, whichever instance
 * it picks, so every instance builds the same URLs), the original scheme and the client's address.
 */
export function proxyHeaders(target: Target, clientIp: string): Record<string, string> {
  return target.proxied ? { host: new URL(target.issuer).host, 'x-forwarded-proto': 'https', 'x-forwarded-for': clientIp } : {};
}

let ipCounter = 0;
/**
 * A different client address per flow (from 10.0.0.0/8): production sits behind a proxy that
 * forwards each visitor's address, so per-IP sign-in limits see many visitors, not one loader.
 */
export function nextClientIp(): string {
  const n = ++ipCounter % 16_000_000;
  return `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
}

interface Cookie { name: string; value: string; path: string }

/** One browser's cookies, scoped by path as a browser scopes them. */
export class CookieJar {
  private cookies = new Map<string, Cookie>();

  header(url: URL): string | undefined {
    const matching = [...this.cookies.values()].filter((cookie) => url.pathname.startsWith(cookie.path));
    return matching.length ? matching.map((cookie) => `${cookie.name}=${cookie.value}`).join('; ') : undefined;
  }

  store(response: HttpResponse): void {
    for (const line of response.headers['set-cookie'] ?? []) {
      const [pair, ...attributes] = line.split(';').map((part) => part.trim());
      const index = pair!.indexOf('=');
      const name = pair!.slice(0, index);
      const value = pair!.slice(index + 1);
      const path = attributes.find((a) => a.toLowerCase().startsWith('path='))?.slice(5) || '/';
      const expired = value === '' || attributes.some((a) => /^max-age=0$/i.test(a) || (/^expires=/i.test(a) && Date.parse(a.slice(8)) < Date.now()));
      if (expired) this.cookies.delete(`${name};${path}`);
      else this.cookies.set(`${name};${path}`, { name, value, path });
    }
  }
}

function expectStatus(response: HttpResponse, expected: number[], what: string): void {
  if (!expected.includes(response.status)) {
    const detail = response.body.replace(/\s+/g, ' ').slice(0, 200);
    throw new Error(`${what}: HTTP ${response.status} (expected ${expected.join('/')}): ${detail}`);
  }
}

/** A browser session: cookies, its own client address, forwarded headers, manual redirects. */
class Browser {
  readonly jar = new CookieJar();
  readonly ip = nextClientIp();
  constructor(private readonly http: HttpClient, private readonly target: Target) {}

  async request(to: URL, init: { method?: string; form?: Record<string, string> } = {}): Promise<HttpResponse> {
    const url = toOrigin(this.target, to);
    const headers: Record<string, string> = { accept: 'text/html', 'user-agent': 'portcullis-bench', ...proxyHeaders(this.target, this.ip) };
    const cookie = this.jar.header(url);
    if (cookie) headers.cookie = cookie;
    let body: string | undefined;
    if (init.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(init.form).toString();
    }
    const response = await this.http.request(url, { method: init.method ?? (body ? 'POST' : 'GET'), headers, body });
    this.jar.store(response);
    return response;
  }

  location(response: HttpResponse, base: URL): string {
    const location = response.headers.location;
    if (!location) throw new Error(`no Location on HTTP ${response.status} from ${base.pathname}`);
    return location;
  }
}

const csrfField = /name="csrf" value="([^"]+)"/;

/** The action of the first form whose action contains `fragment`. */
function formAction(html: string, fragment: string): string | undefined {
  return [...html.matchAll(/<form[^>]*action="([^"]+)"/g)].map((m) => m[1]!).find((action) => action.includes(fragment));
}

export interface FlowTokens { access_token: string; id_token: string; refresh_token?: string; token_type: string; expires_in: number }

export interface LoginFlowOptions {
  http: HttpClient;
  target: Target;
  client: WebClient;
  credentials: Credentials;
  /** Published keys, to verify the ID token as a relying party would. */
  jwks: JSONWebKeySet;
  scope?: string;
  /** `consent` gets a refresh token (offline_access needs prompt=consent). */
  prompt?: string;
}

/**
 * The whole authorization code flow a relying party and a browser go through: authorize →
 * login page (CSRF cookie and token) → POST credentials → consent when asked → callback → code
 * exchange with PKCE → a verified ID token.
 */
export async function loginFlow(options: LoginFlowOptions): Promise<FlowTokens> {
  const { http, target, client, credentials } = options;
  const browser = new Browser(http, target);
  const verifier = randomBytes(32).toString('base64url');
  const state = randomBytes(12).toString('base64url');
  const nonce = randomBytes(12).toString('base64url');
  const authorize = new URL('/auth', target.origin);
  authorize.search = new URLSearchParams({
    response_type: 'code', client_id: client.clientId, redirect_uri: client.redirectUri, scope: options.scope ?? 'openid email profile',
    state, nonce, code_challenge: createHash('sha256').update(verifier).digest('base64url'), code_challenge_method: 'S256',
    ...(options.prompt ? { prompt: options.prompt } : {}),
  }).toString();

  let url = authorize;
  let response = await browser.request(url);
  let signedIn = false;
  let callback: URL | undefined;
  for (let step = 0; step < 12 && !callback; step++) {
    if (response.status >= 300 && response.status < 400) {
      const location = browser.location(response, url);
      if (location.startsWith(client.redirectUri)) {
        callback = new URL(location);
        break;
      }
      url = new URL(location, url);
      response = await browser.request(url);
      continue;
    }
    expectStatus(response, [200], `GET ${url.pathname}`);
    const csrf = csrfField.exec(response.body)?.[1];
    const login = formAction(response.body, '/login');
    const confirm = formAction(response.body, '/confirm');
    if (login && !signedIn && csrf) {
      url = new URL(login, url);
      response = await browser.request(url, { form: { csrf, email: credentials.email, password: credentials.password } });
      expectStatus(response, [303], 'POST login');
      signedIn = true;
    } else if (confirm && csrf) {
      url = new URL(confirm, url);
      response = await browser.request(url, { form: { csrf } });
      expectStatus(response, [303], 'POST consent');
    } else {
      const alert = /role="alert"[^>]*>([^<]+)</.exec(response.body)?.[1]?.trim();
      const title = /<title>([^<]+)</.exec(response.body)?.[1]?.trim();
      throw new Error(`unexpected page at ${url.pathname} (${title ?? 'no title'}${alert ? `: ${alert}` : ''})`);
    }
  }
  if (!callback) throw new Error('the flow did not reach the callback');
  if (callback.searchParams.get('state') !== state) throw new Error(`callback without our state: ${callback.search.slice(0, 200)}`);
  const code = callback.searchParams.get('code');
  if (!code) throw new Error(`callback without a code: ${callback.search.slice(0, 200)}`);

  const tokens = await tokenRequest(http, target, client, { grant_type: 'authorization_code', code, redirect_uri: client.redirectUri, code_verifier: verifier }, browser.ip);
  if (!tokens.id_token) throw new Error('the token response has no id_token');
  const { payload } = await jwtVerify(tokens.id_token, createLocalJWKSet(options.jwks), { issuer: target.issuer, audience: client.clientId });
  if (payload.nonce !== nonce) throw new Error('ID token nonce mismatch');
  return tokens as unknown as FlowTokens;
}

/** A token endpoint request with client_secret_basic; throws unless the answer is 200. */
export async function tokenRequest(http: HttpClient, target: Target, client: { clientId: string; secret: string }, params: Record<string, string>, clientIp = '203.0.113.10'): Promise<Record<string, string> & { expires_in: number; token_type: string }> {
  const response = await http.request(new URL('/token', nextOrigin(target)), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth(client.clientId, client.secret), ...proxyHeaders(target, clientIp) },
    body: new URLSearchParams(params).toString(),
  });
  expectStatus(response, [200], `POST /token (${params.grant_type})`);
  return JSON.parse(response.body) as Record<string, string> & { expires_in: number; token_type: string };
}

/** One refresh-token rotation; returns the next refresh token of the chain. */
export async function rotateRefreshToken(http: HttpClient, target: Target, client: WebClient, refreshToken: string, clientIp: string): Promise<string> {
  const tokens = await tokenRequest(http, target, client, { grant_type: 'refresh_token', refresh_token: refreshToken }, clientIp);
  if (!tokens.refresh_token || tokens.refresh_token === refreshToken) throw new Error('the refresh token did not rotate');
  if (!tokens.access_token) throw new Error('no access token from the refresh');
  return tokens.refresh_token;
}

/** The published signing keys. */
export async function fetchJwks(http: HttpClient, target: Target): Promise<JSONWebKeySet> {
  const response = await http.request(new URL('/jwks', target.origin), { headers: proxyHeaders(target, '203.0.113.10') });
  expectStatus(response, [200], 'GET /jwks');
  return JSON.parse(response.body) as JSONWebKeySet;
}
