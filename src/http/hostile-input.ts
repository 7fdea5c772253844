import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import type { Context, Middleware } from 'koa';
import { AppError, BadRequestError } from '../errors/app-error.js';

/** The edge's limits (README "Hostile input"). */
export const inputLimits = {
  /** A form or JSON body; oidc-provider's own limit is 56 KiB, ours was 64 KiB in form-body.ts. */
  maxBodyBytes: 64 * 1024,
  /** Nesting of a JSON body: no endpoint takes more than a few levels. */
  maxJsonDepth: 32,
  /** One parameter's value, in a query string or a body (a signed request object fits easily). */
  maxValueLength: 16 * 1024,
};

const buffered = Symbol('portcullis.bufferedBody');
const utf8 = new TextDecoder('utf-8', { fatal: true });
// Our cookies (pcl.*, oidc-provider's __Host-pcl.session, …); other sites' cookies on the domain are not ours to judge.
const ownCookie = /^(__Host-|__Secure-)?pcl\./;

const refuse = (what: string, problem: string) => new BadRequestError('invalid_request', `${what} ${problem}`);

/** Why a decoded string cannot be passed on, if it cannot. */
function problemWith(text: string): string | undefined {
  if (text.includes('\0')) return 'contains a NUL byte';
  if (!(text as string & { isWellFormed(): boolean }).isWellFormed()) return 'is not valid UTF-8';
  if (text.length > inputLimits.maxValueLength) return `is longer than ${inputLimits.maxValueLength} characters`;
  return undefined;
}

function decode(raw: string): string | undefined {
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' '));
  } catch {
    return undefined; // a broken %-escape or a %-encoded invalid UTF-8 sequence
  }
}

/** Checks `a=b&c=d` as both a query string and a form body are encoded. */
function checkEncodedPairs(encoded: string, where: string): void {
  for (const pair of encoded.split('&')) {
    if (!pair) continue;
    const [rawName = '', rawValue = ''] = pair.split(/=(.*)/s);
    const name = decode(rawName);
    const nameProblem = name === undefined ? 'is not valid UTF-8' : problemWith(name);
    if (nameProblem) throw refuse(`a ${where} parameter name`, nameProblem);
    const value = decode(rawValue);
    const label = `parameter "${name!.slice(0, 64)}"`;
    if (value === undefined) throw refuse(label, 'is not valid UTF-8 or has a broken %-escape');
    const problem = problemWith(value);
    if (problem) throw refuse(label, problem);
  }
}

function checkJson(value: unknown, at: string, depth: number): void {
  const { maxJsonDepth } = inputLimits;
  if (depth > maxJsonDepth) throw refuse('the request body', `is nested deeper than ${maxJsonDepth} levels`);
  if (typeof value === 'string') {
    const problem = problemWith(value);
    if (problem) throw refuse(`parameter "${at || 'body'}"`, problem);
  } else if (Array.isArray(value)) {
    value.forEach((item, index) => checkJson(item, `${at}[${index}]`, depth + 1));
  } else if (value && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      const problem = problemWith(key);
      if (problem) throw refuse('a JSON member name', problem);
      checkJson(item, at ? `${at}.${key.slice(0, 64)}` : key.slice(0, 64), depth + 1);
    }
  }
}

async function readRaw(ctx: Context): Promise<Buffer> {
  const tooLarge = () => {
    // The rest of the body stays unread: the connection cannot carry another request.
    ctx.set('Connection', 'close');
    return new AppError('payload_too_large', 413, 'the request body is too large');
  };
  if ((ctx.request.length ?? 0) > inputLimits.maxBodyBytes) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  // destroyOnReturn: false — destroying the request would destroy the socket before the 413 is sent.
  for await (const chunk of ctx.req.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > inputLimits.maxBodyBytes) throw tooLarge();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/**
 * Lets the next reader see the body again. oidc-provider reads `req` itself when `req.readable`
 * (lib/shared/selective_body.js: `req.iterator({ destroyOnReturn: false })`); our readers ask bufferedBody.
 */
function rewind(req: IncomingMessage, body: Buffer): void {
  (req as IncomingMessage & { [buffered]?: Buffer })[buffered] = body;
  Object.defineProperty(req, 'readable', { value: true, configurable: true });
  req.iterator = (options) => Readable.from([body]).iterator(options);
  const iterable = req as unknown as Record<symbol, unknown>;
  iterable[Symbol.asyncIterator] = () => Readable.from([body])[Symbol.asyncIterator]();
}

/** The body hostileInput already read and checked, if it did. */
export function bufferedBody(req: IncomingMessage): Buffer | undefined {
  return (req as IncomingMessage & { [buffered]?: Buffer })[buffered];
}

async function checkBody(ctx: Context): Promise<void> {
  const kind = ctx.is('application/x-www-form-urlencoded', 'application/json', '+json');
  if (!kind) return;
  const raw = await readRaw(ctx);
  rewind(ctx.req, raw);
  let text: string;
  try {
    text = utf8.decode(raw);
  } catch {
    throw refuse('the request body', 'is not valid UTF-8');
  }
  if (kind === 'application/x-www-form-urlencoded') return checkEncodedPairs(text, 'form');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return; // not JSON at all: each reader answers that in its own words (invalid_json, invalid_request)
  }
  checkJson(parsed, '', 0);
}

function checkAuthorization(header: string): void {
  const [scheme = '', credentials = ''] = header.split(' ');
  if (scheme.toLowerCase() !== 'basic' || !credentials) return;
  let decoded: string;
  try {
    decoded = utf8.decode(Buffer.from(credentials, 'base64'));
  } catch {
    throw refuse('the Authorization header', 'is not valid UTF-8');
  }
  // client_secret_basic form-encodes client_id and secret (RFC 6749 §2.3.1) before base64.
  for (const part of decoded.split(':')) {
    const value = decode(part);
    const problem = value === undefined ? 'is not valid UTF-8 or has a broken %-escape' : problemWith(value);
    if (problem) throw refuse('the Authorization header', problem);
  }
}

function checkCookies(header: string): void {
  for (const pair of header.split(';')) {
    const [name = '', value = ''] = pair.trim().split(/=(.*)/s);
    // A cookie we set is printable ASCII; anything else was not set by us.
    if (ownCookie.test(name) && !/^[\x21-\x7e]*$/.test(value)) {
      throw refuse(`cookie "${name}"`, 'has characters outside printable ASCII');
    }
  }
}

/**
 * One edge check before any handler, or oidc-provider, sees a request: NUL bytes, invalid UTF-8
 * (broken %-escapes, lone surrogates), oversized values and bodies, and over-deep JSON in the
 * path, query string, form and JSON bodies, Basic credentials and our cookies are refused with
 * 400 `invalid_request` naming the parameter, so they never reach PostgreSQL or Redis.
 */
export function hostileInput(): Middleware {
  return async (ctx, next) => {
    for (const segment of ctx.path.split('/')) {
      const decoded = decode(segment.replace(/\+/g, '%2B'));
      const problem = decoded === undefined ? 'is not valid UTF-8 or has a broken %-escape' : problemWith(decoded);
      if (problem) throw refuse('the path', problem);
    }
    checkEncodedPairs(ctx.querystring, 'query');
    const authorization = ctx.get('authorization');
    if (authorization) checkAuthorization(authorization);
    const cookie = ctx.get('cookie');
    if (cookie) checkCookies(cookie);
    await checkBody(ctx);
    await next();
  };
}
