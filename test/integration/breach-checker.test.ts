import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createBreachChecker, normalisePassword } from '../../src/accounts/breach-checker.js';

const sha1 = (value: string) => createHash('sha1').update(value, 'utf8').digest('hex').toUpperCase();

const breached = new Map([[sha1('password'), 3_861_493], [sha1(normalisePassword('åpassword')), 12]]);
// Listed with count 0: what Add-Padding adds. It must not count as breached.
const paddedOnly = sha1('zebra kettle orbit lantern');

interface SeenRequest { url: string; headers: http.IncomingHttpHeaders }

/** Speaks the Pwned Passwords range API: uppercase hex prefix, SUFFIX:COUNT lines, padding on request. */
function startRangeServer() {
  const seen: SeenRequest[] = [];
  const server = http.createServer((req, res) => {
    seen.push({ url: req.url ?? '', headers: req.headers });
    const match = /^\/(?:mirror\/)?range\/([0-9A-F]{5})$/.exec(req.url ?? '');
    if (req.url?.includes('/range/') && req.url.includes('stall')) return; // never answers
    if (!match) { res.writeHead(400).end('bad prefix'); return; }
    if (req.headers['add-padding'] !== 'true') { res.writeHead(400).end('padding expected'); return; }
    const prefix = match[1]!;
    const lines: string[] = [];
    for (let i = 0; i < 800; i++) lines.push(`${randomBytes(18).toString('hex').slice(0, 35).toUpperCase()}:${i % 3 === 0 ? 0 : i}`);
    for (const [hash, count] of breached) if (hash.startsWith(prefix)) lines.splice(400, 0, `${hash.slice(5)}:${count}`);
    if (paddedOnly.startsWith(prefix)) lines.splice(10, 0, `${paddedOnly.slice(5)}:0`);
    res.writeHead(200, { 'content-type': 'text/plain' }).end(lines.join('\r\n'));
  });
  return { server, seen };
}

function captureLogger() {
  const lines: Array<{ level: number; msg: string; reason?: string; status?: number }> = [];
  const logger = pino({ level: 'warn' }, { write: (line: string) => { lines.push(JSON.parse(line)); } });
  return { logger, lines };
}

describe('breach checker (HIBP k-anonymity range API)', () => {
  const { server, seen } = startRangeServer();
  let baseUrl: string;
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  beforeEach(() => { seen.length = 0; });

  it('finds a breached password and sends only the 5-character hash prefix, with Add-Padding', async () => {
    const { logger, lines } = captureLogger();
    const checker = createBreachChecker({ baseUrl, timeoutMs: 2_000, logger });
    expect(await checker.isBreached('password')).toBe(true);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.url).toBe(`/range/${sha1('password').slice(0, 5)}`);
    expect(seen[0]!.url).toMatch(/^\/range\/[0-9A-F]{5}$/);
    expect(seen[0]!.headers['add-padding']).toBe('true');
    expect(JSON.stringify(seen[0])).not.toContain(sha1('password').slice(5, 15));
    expect(lines).toEqual([]);
  });

  it('answers false for a password absent from the list, and ignores padding entries (count 0)', async () => {
    const { logger } = captureLogger();
    const checker = createBreachChecker({ baseUrl, timeoutMs: 2_000, logger });
    expect(await checker.isBreached('purple monkey dishwasher rides')).toBe(false);
    expect(await checker.isBreached('zebra kettle orbit lantern')).toBe(false);
    expect(seen.map((request) => request.url)).toEqual([
      `/range/${sha1('purple monkey dishwasher rides').slice(0, 5)}`, `/range/${sha1('zebra kettle orbit lantern').slice(0, 5)}`]);
  });

  it('hashes the NFKC form, so composed and decomposed input agree, and accepts a mirror base path', async () => {
    const { logger } = captureLogger();
    const checker = createBreachChecker({ baseUrl: `${baseUrl}/mirror/`, timeoutMs: 2_000, logger });
    expect(await checker.isBreached('åpassword')).toBe(true);
    expect(await checker.isBreached('a\u030Apassword')).toBe(true);
    expect(seen[0]!.url).toBe(`/mirror/range/${sha1('åpassword').slice(0, 5)}`);
  });

  it('fails open with a warning when the service answers 500', async () => {
    const failing = http.createServer((_req, res) => { res.writeHead(500).end('boom'); });
    await new Promise<void>((resolve) => failing.listen(0, '127.0.0.1', resolve));
    const { logger, lines } = captureLogger();
    const checker = createBreachChecker({ baseUrl: `http://127.0.0.1:${(failing.address() as AddressInfo).port}`, timeoutMs: 2_000, logger });
    expect(await checker.isBreached('password')).toBe(false);
    await new Promise((resolve) => failing.close(resolve));
    expect(lines).toEqual([expect.objectContaining({ level: 40, status: 500, msg: expect.stringContaining('fail-open') })]);
  });

  it('fails open with a warning when the service is unreachable', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const { logger, lines } = captureLogger();
    const checker = createBreachChecker({ baseUrl: `http://127.0.0.1:${port}`, timeoutMs: 2_000, logger });
    expect(await checker.isBreached('password')).toBe(false);
    expect(lines).toEqual([expect.objectContaining({ level: 40, msg: expect.stringContaining('fail-open') })]);
  });

  it('fails open with a warning when the service does not answer in time', async () => {
    const { logger, lines } = captureLogger();
    // The fake server never answers under /stall; the checker's own 50 ms deadline ends the wait.
    const checker = createBreachChecker({ baseUrl: `${baseUrl}/stall`, timeoutMs: 50, logger });
    expect(await checker.isBreached('password')).toBe(false);
    expect(lines).toEqual([expect.objectContaining({ level: 40, reason: 'timeout' })]);
  });

  it('passes the password to no one: the injected fetch sees only the prefix URL', async () => {
    const urls: string[] = [];
    const { logger } = captureLogger();
    const checker = createBreachChecker({
      baseUrl, timeoutMs: 2_000, logger,
      fetch: async (input, init) => { urls.push(String(input)); return fetch(input, init); },
    });
    expect(await checker.isBreached('password')).toBe(true);
    expect(urls).toEqual([`${baseUrl}/range/5BAA6`]);
  });
});
