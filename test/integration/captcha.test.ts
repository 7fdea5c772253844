import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import { solveChallenge, type Challenge } from 'altcha-lib';
import { deriveKey } from 'altcha-lib/algorithms/sha';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { altchaMaxNumberFor } from '../../src/captcha/altcha-difficulty.js';
import { createCaptchaRouter } from '../../src/captcha/captcha-router.js';
import { captchaFields, createCaptcha, type Captcha } from '../../src/captcha/captcha-service.js';
import type { Config } from '../../src/config/schema.js';

const altchaConfig: Config['captcha'] = {
  provider: 'altcha',
  loginFailuresBeforeCaptcha: 3,
  altchaMaxNumber: 1000,
  altchaGrowth: 2,
  altchaMaxNumberCap: 64000,
  challengeTtl: 600,
};

function captureLogger() {
  const lines: Array<{ level: number; msg: string; provider?: string; status?: number }> = [];
  return { lines, logger: pino({ level: 'warn' }, { write: (line: string) => { lines.push(JSON.parse(line)); } }) };
}

/** The shared replay store, as Redis SET NX EX would behave. */
function memoryReplayStore() {
  const used = new Map<string, number>();
  return { used, markUsed: async (key: string, ttlSeconds: number) => { if (used.has(key)) return false; used.set(key, ttlSeconds); return true; } };
}

async function listen(server: http.Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function close(server: http.Server): Promise<void> {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}

/** What the altcha widget posts in the `altcha` field: base64 of { challenge, solution }. */
async function solve(challenge: Challenge): Promise<string> {
  const solution = await solveChallenge({ challenge, deriveKey });
  if (!solution) throw new Error('no solution');
  return Buffer.from(JSON.stringify({ challenge: { parameters: challenge.parameters, signature: challenge.signature }, solution })).toString('base64');
}

describe('altcha (self-hosted proof of work)', () => {
  const replay = memoryReplayStore();
  const { logger } = captureLogger();
  const captcha = createCaptcha({ config: altchaConfig, hmacKey: 'test-hmac-key-0123456789abcdef', markUsed: replay.markUsed, logger });
  const app = new Koa();
  app.use(createCaptchaRouter(captcha).routes());
  const server = http.createServer(app.callback());
  let origin: string;
  beforeAll(async () => { origin = await listen(server); });
  afterAll(() => close(server));
  afterEach(() => { vi.useRealTimers(); });

  async function fetchChallenge(): Promise<Challenge> {
    const response = await fetch(`${origin}/captcha/challenge`);
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    return await response.json() as Challenge;
  }

  it('describes its widget: our own script, stylesheet, worker and challenge URL, no third party', () => {
    expect(captcha.enabled).toBe(true);
    expect(captcha.widget()).toEqual({
      provider: 'altcha', field: 'altcha', challengeUrl: '/captcha/challenge', scriptSrc: '/static/vendor/altcha.js',
      styleHref: '/static/vendor/altcha.css', workerSrc: '/static/vendor/altcha-worker-sha.js',
    });
  });

  it('serves a signed, expiring challenge that a solved payload verifies once', async () => {
    const challenge = await fetchChallenge();
    expect(challenge.parameters.algorithm).toBe('SHA-256');
    expect(challenge.signature).toMatch(/^[0-9a-f]{64}$/);
    expect(challenge.parameters.expiresAt! - Date.now() / 1000).toBeGreaterThan(590);
    const payload = await solve(challenge);
    expect(await captcha.verify({ altcha: payload }, '127.0.0.1')).toBe(true);
    expect([...replay.used.values()].at(-1)).toBeGreaterThan(590);
    // Replay: the same payload a second time.
    expect(await captcha.verify({ altcha: payload }, '127.0.0.1')).toBe(false);
  });

  it('refuses tampered payloads without recording them', async () => {
    const challenge = await fetchChallenge();
    const good = JSON.parse(Buffer.from(await solve(challenge), 'base64').toString()) as {
      challenge: Challenge; solution: { counter: number; derivedKey: string };
    };
    const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64');
    const before = replay.used.size;
    const longer = { ...good, challenge: { ...good.challenge, parameters: { ...good.challenge.parameters, expiresAt: good.challenge.parameters.expiresAt! + 86_400 } } };
    const wrongKey = { ...good, solution: { ...good.solution, derivedKey: good.solution.derivedKey.replace(/.$/, (c) => (c === '0' ? '1' : '0')) } };
    const unsigned = { ...good, challenge: { parameters: good.challenge.parameters } };
    const easier = { ...good, challenge: { ...good.challenge, parameters: { ...good.challenge.parameters, keyPrefix: '00' } } };
    for (const forged of [longer, wrongKey, unsigned, easier]) {
      expect(await captcha.verify({ altcha: encode(forged) }, '127.0.0.1')).toBe(false);
    }
    for (const junk of ['', 'not base64 json', encode({ challenge: null, solution: null, test: true }), encode([1, 2])]) {
      expect(await captcha.verify({ altcha: junk }, '127.0.0.1')).toBe(false);
    }
    expect(await captcha.verify({}, '127.0.0.1')).toBe(false);
    expect(replay.used.size).toBe(before);
    // The genuine payload still works: nothing above spent it.
    expect(await captcha.verify({ altcha: encode(good) }, '127.0.0.1')).toBe(true);
  });

  it('refuses a payload whose challenge has expired', async () => {
    const challenge = await fetchChallenge();
    const payload = await solve(challenge);
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + (altchaConfig.challengeTtl + 1) * 1000);
    expect(await captcha.verify({ altcha: payload }, '127.0.0.1')).toBe(false);
  });

  it('refuses a payload signed with another key', async () => {
    const other = createCaptcha({ config: altchaConfig, hmacKey: 'another-key-entirely-0123456789', markUsed: memoryReplayStore().markUsed, logger });
    const payload = await solve(await other.challenge());
    expect(await captcha.verify({ altcha: payload }, '127.0.0.1')).toBe(false);
  });
});

describe('altcha adaptive work', () => {
  const replay = memoryReplayStore();
  const { logger } = captureLogger();
  const captcha = createCaptcha({
    config: altchaConfig,
    hmacKey: 'test-hmac-key-0123456789abcdef',
    markUsed: replay.markUsed,
    logger,
  });
  // The client IP's failures, as the login throttle would count them.
  const failuresByIp = new Map<string, number>();
  const app = new Koa();
  app.use(async (ctx, next) => { ctx.state.clientIp = ctx.get('x-test-ip') || '127.0.0.1'; await next(); });
  app.use(createCaptchaRouter(captcha, {
    required: async (_email, ip) => altchaMaxNumberFor(failuresByIp.get(ip) ?? 0, altchaConfig),
  }).routes());
  const server = http.createServer(app.callback());
  let origin: string;
  beforeAll(async () => { origin = await listen(server); });
  afterAll(() => close(server));
  afterEach(() => { vi.useRealTimers(); });

  const fetchChallenge = async (path = '/captcha/challenge', ip?: string) =>
    await (await fetch(`${origin}${path}`, { headers: ip ? { 'x-test-ip': ip } : {} })).json() as Challenge;
  const workOf = (challenge: Challenge) => challenge.parameters.data?.maxNumber;

  it('asks the base work up to loginFailuresBeforeCaptcha failures, then doubles per failure, up to the cap', () => {
    expect([0, 3, 4, 5, 6, 9, 10, 1000].map((failures) => altchaMaxNumberFor(failures, altchaConfig))).toEqual([
      1000, 1000, 2000, 4000, 8000, 64000, 64000, 64000,
    ]);
    expect(altchaMaxNumberFor(50, { ...altchaConfig, altchaGrowth: 1 })).toBe(1000);
  });

  it('signs the work into the challenge, clamped to base … cap', async () => {
    expect(workOf(await captcha.challenge())).toBe(1000);
    expect(workOf(await captcha.challenge(8000))).toBe(8000);
    expect(workOf(await captcha.challenge(10 ** 9))).toBe(64000);
    expect(workOf(await captcha.challenge(5))).toBe(1000);
  });

  it("serves more work to an IP that failed, and what a page's signed hint asks; a forged hint asks nothing", async () => {
    failuresByIp.set('198.51.100.9', 5);
    expect(workOf(await fetchChallenge('/captcha/challenge', '198.51.100.9'))).toBe(4000);
    expect(workOf(await fetchChallenge('/captcha/challenge', '198.51.100.10'))).toBe(1000);

    const widget = captcha.widget({ maxNumber: 16000 });
    expect(widget.challengeUrl).toMatch(/^\/captcha\/challenge\?d=16000\.\d+\.[\w-]{43}$/);
    expect(workOf(await fetchChallenge(widget.challengeUrl))).toBe(16000);
    expect(captcha.widget({ maxNumber: 1000 }).challengeUrl).toBe('/captcha/challenge');
    const forged = widget.challengeUrl!.replace('d=16000', 'd=1000');
    expect(captcha.readHint(new URL(forged, origin).searchParams.get('d'))).toBeUndefined();
    expect(workOf(await fetchChallenge(forged))).toBe(1000);
    // The hint expires with the challenges it stands for.
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + (altchaConfig.challengeTtl + 1) * 1000);
    expect(captcha.readHint(new URL(widget.challengeUrl!, origin).searchParams.get('d'))).toBeUndefined();
  });

  it('refuses a solved challenge of less work than required, without spending it; a forged work figure breaks the signature', async () => {
    const challenge = await captcha.challenge(2000);
    const payload = await solve(challenge);
    const before = replay.used.size;
    expect(await captcha.verify({ altcha: payload }, '127.0.0.1', { minMaxNumber: 4000 })).toBe(false);
    expect(replay.used.size).toBe(before);
    const good = JSON.parse(Buffer.from(payload, 'base64').toString()) as { challenge: Challenge; solution: unknown };
    const inflated = {
      ...good,
      challenge: { ...good.challenge, parameters: { ...good.challenge.parameters, data: { maxNumber: 64000 } } },
    };
    expect(
      await captcha.verify({ altcha: Buffer.from(JSON.stringify(inflated)).toString('base64') }, '127.0.0.1', {
        minMaxNumber: 4000,
      }),
    ).toBe(false);
    expect(await captcha.verify({ altcha: payload }, '127.0.0.1', { minMaxNumber: 2000 })).toBe(true);
  });
});

describe.each([
  { provider: 'turnstile', field: 'cf-turnstile-response', defaultUrl: 'https://challenges.cloudflare.com/turnstile/v0/siteverify' },
  { provider: 'hcaptcha', field: 'h-captcha-response', defaultUrl: 'https://api.hcaptcha.com/siteverify' },
  { provider: 'recaptcha', field: 'g-recaptcha-response', defaultUrl: 'https://www.google.com/recaptcha/api/siteverify' },
] as const)('$provider (remote siteverify)', ({ provider, field, defaultUrl }) => {
  const received: Array<{ contentType?: string; form: Record<string, string> }> = [];
  // Speaks siteverify: a form POST of secret, response, remoteip; JSON { success, error-codes }.
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const form = Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString()));
      received.push({ contentType: req.headers['content-type'], form });
      if (form.response === 'explode') { res.writeHead(500).end(); return; }
      const success = req.method === 'POST' && form.secret === 'the-secret' && ['good-token', 'bot-token'].includes(form.response!);
      // A reCAPTCHA v3 key grades tokens: success with a low score is still a bot.
      const score = form.response === 'bot-token' ? { score: 0.1 } : {};
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ success, ...score, 'error-codes': success ? [] : ['invalid-input-response'] }));
    });
  });
  let verifyUrl: string;
  let captcha: Captcha;
  const { logger, lines } = captureLogger();
  beforeAll(async () => {
    verifyUrl = `${await listen(server)}/siteverify`;
    captcha = createCaptcha({ config: { ...altchaConfig, provider, siteKey: 'the-site-key', secretKey: 'the-secret', verifyUrl }, hmacKey: '', markUsed: memoryReplayStore().markUsed, logger });
  });
  afterAll(() => close(server));

  it('posts secret, response and remoteip, and trusts only success: true', async () => {
    expect(captchaFields[provider]).toBe(field);
    const widget = captcha.widget();
    expect(widget).toMatchObject({ provider, field, siteKey: 'the-site-key', scriptSrc: expect.stringMatching(/^https:\/\//) });
    // Whatever the page loads, its CSP must allow: the script's own origin is among the script sources.
    expect(widget.cspSources!.script.some((source) => widget.scriptSrc!.startsWith(source.replace('*.', 'js.')))).toBe(true);
    expect(widget.cspSources!.frame.length).toBeGreaterThan(0);
    expect(await captcha.verify({ [field]: 'good-token' }, '203.0.113.7')).toBe(true);
    expect(received.at(-1)).toEqual({
      contentType: 'application/x-www-form-urlencoded', form: { secret: 'the-secret', response: 'good-token', remoteip: '203.0.113.7' } });
    expect(await captcha.verify({ [field]: 'bad-token' }, '203.0.113.7')).toBe(false);
    expect(received.at(-1)!.form.response).toBe('bad-token');
    expect(await captcha.verify({ [field]: 'bot-token' }, '203.0.113.7')).toBe(false);
  });

  it('refuses a missing token without calling the service', async () => {
    const count = received.length;
    expect(await captcha.verify({}, '203.0.113.7')).toBe(false);
    expect(await captcha.verify({ [field]: '' }, '203.0.113.7')).toBe(false);
    expect(received).toHaveLength(count);
  });

  it('fails closed, with a warning, when the service errors or is down', async () => {
    lines.length = 0;
    expect(await captcha.verify({ [field]: 'explode' }, '203.0.113.7')).toBe(false);
    expect(lines).toEqual([expect.objectContaining({ level: 40, provider, status: 500 })]);
    const down = http.createServer();
    const downUrl = await listen(down);
    await close(down);
    const offline = createCaptcha({ config: { ...altchaConfig, provider, siteKey: 'k', secretKey: 'the-secret', verifyUrl: downUrl }, hmacKey: '', markUsed: memoryReplayStore().markUsed, logger });
    expect(await offline.verify({ [field]: 'good-token' }, '203.0.113.7')).toBe(false);
    expect(lines).toHaveLength(2);
    expect(lines[1]!.msg).toContain('fail-closed');
  });

  it('uses the provider\'s own siteverify URL when none is configured', async () => {
    const urls: string[] = [];
    const fake: typeof fetch = async (input) => { urls.push(String(input)); return Response.json({ success: true }); };
    const defaults = createCaptcha({ config: { ...altchaConfig, provider, siteKey: 'k', secretKey: 's' }, hmacKey: '', markUsed: memoryReplayStore().markUsed, logger, fetch: fake });
    expect(await defaults.verify({ [field]: 'token' }, '')).toBe(true);
    expect(urls).toEqual([defaultUrl]);
  });

  it('refuses to start without its keys', () => {
    expect(() => createCaptcha({ config: { ...altchaConfig, provider, siteKey: 'k' }, hmacKey: '', markUsed: memoryReplayStore().markUsed, logger }))
      .toThrow(/secretKey/);
  });
});

describe('captcha turned off', () => {
  it('lets every form through without calling anything, and serves no challenge', async () => {
    const calls: string[] = [];
    const captcha = createCaptcha({
      config: { ...altchaConfig, provider: 'none' }, hmacKey: '', logger: captureLogger().logger,
      markUsed: async (key) => { calls.push(key); return true; },
      fetch: async (input) => { calls.push(String(input)); throw new Error('no network expected'); },
    });
    expect(captcha.enabled).toBe(false);
    expect(captcha.widget()).toEqual({ provider: 'none' });
    expect(await captcha.verify({}, '127.0.0.1')).toBe(true);
    expect(calls).toEqual([]);
    const app = new Koa();
    app.use(createCaptchaRouter(captcha).routes());
    const server = http.createServer(app.callback());
    const origin = await listen(server);
    expect((await fetch(`${origin}/captcha/challenge`)).status).toBe(404);
    await close(server);
  });
});
