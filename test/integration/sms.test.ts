import { createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createSmsSender, smsConfigSchema, SmsDeliveryError, type SmsConfig } from '../../src/infra/sms.js';

interface Received { method: string; url: string; headers: http.IncomingHttpHeaders; body: string }
type Answer = (request: Received, response: http.ServerResponse) => void;

/** A loopback HTTP server that records every request and answers with `answer`. */
async function startServer(answer: Answer) {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => { body += chunk; });
    req.on('end', () => {
      const request = { method: req.method!, url: req.url!, headers: req.headers, body };
      received.push(request);
      answer(request, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const close = async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  };
  servers.push(close);
  return { url: `http://127.0.0.1:${port}`, received };
}

const servers: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((close) => close()));
});

/** A pino logger writing into an array, so tests read exactly what production would log. */
function capturedLogger() {
  const lines: string[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => { lines.push(line); } });
  return { logger, raw: () => lines.join(''), entries: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>) };
}

const json = (status: number, body: unknown): Answer => (_request, response) => {
  response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
};

const secret = 'whsec-0123456789abcdef0123456789abcdef';
const accountSid = `AC${'a1'.repeat(16)}`;
const authToken = 'twilio-auth-token-for-tests';
const to = '+447700900123';
const text = 'Your code is 493817';

const sender = (config: unknown, logger = capturedLogger().logger) => createSmsSender(smsConfigSchema.parse(config), { logger });

describe('webhook SMS provider', () => {
  it('POSTs JSON with a timestamp and an HMAC signature the receiver can verify', async () => {
    const hook = await startServer((_request, response) => response.writeHead(204).end());
    const { logger, raw } = capturedLogger();
    const before = Math.floor(Date.now() / 1000);
    await sender({ provider: 'webhook', url: `${hook.url}/sms`, secret }, logger).send(to, text);

    expect(hook.received).toHaveLength(1);
    const [request] = hook.received;
    expect(request).toMatchObject({ method: 'POST', url: '/sms' });
    expect(request!.headers['content-type']).toBe('application/json');
    const payload = JSON.parse(request!.body) as { to: string; text: string; timestamp: number };
    expect(payload).toEqual({ to, text, timestamp: expect.any(Number) });

    // What a receiver does: the header timestamp is the body's, fresh, and signed with the body.
    const timestamp = request!.headers['x-portcullis-timestamp'] as string;
    expect(Number(timestamp)).toBe(payload.timestamp);
    expect(Number(timestamp)).toBeGreaterThanOrEqual(before);
    expect(Math.abs(Date.now() / 1000 - Number(timestamp))).toBeLessThan(300);
    const expected = `sha256=${createHmac('sha256', secret).update(`${timestamp}.${request!.body}`).digest('hex')}`;
    const signature = request!.headers['x-portcullis-signature'] as string;
    expect(signature).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(timingSafeEqual(Buffer.from(signature), Buffer.from(expected))).toBe(true);
    // A replay with another timestamp doesn't verify against the same signature.
    const replayed = `sha256=${createHmac('sha256', secret).update(`${Number(timestamp) + 600}.${request!.body}`).digest('hex')}`;
    expect(signature).not.toBe(replayed);

    expect(raw()).not.toContain('493817');
    expect(raw()).not.toContain(secret);
  });

  it('turns a 500 into a clear error naming the provider and status, without the text', async () => {
    const hook = await startServer((_request, response) => response.writeHead(500).end('internal error'));
    const error = await sender({ provider: 'webhook', url: hook.url, secret }).send(to, text).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SmsDeliveryError);
    expect((error as Error).message).toBe('SMS provider webhook answered 500');
  });

  it('gives up after the timeout with a clear error', async () => {
    const hook = await startServer(() => { /* never answers */ });
    const started = Date.now();
    await expect(sender({ provider: 'webhook', url: hook.url, secret, timeoutMs: 300 }).send(to, text))
      .rejects.toThrow('SMS provider webhook unreachable: no answer within 300 ms');
    expect(Date.now() - started).toBeLessThan(5000);
    expect(hook.received).toHaveLength(1);
  });

  it('reports a refused connection as unreachable', async () => {
    const hook = await startServer(json(200, {}));
    await servers.pop()!();
    await expect(sender({ provider: 'webhook', url: hook.url, secret }).send(to, text)).rejects.toThrow(/^SMS provider webhook unreachable: .*ECONNREFUSED/);
  });
});

describe('Twilio SMS provider', () => {
  it('calls the Messages API with basic auth and form-encoded To, From and Body', async () => {
    const twilio = await startServer(json(201, { sid: `SM${'0'.repeat(32)}`, status: 'queued' }));
    const { logger, raw, entries } = capturedLogger();
    await sender({ provider: 'twilio', accountSid, authToken, from: '+15005550006', baseUrl: twilio.url }, logger).send(to, text);

    expect(twilio.received).toHaveLength(1);
    const [request] = twilio.received;
    expect(request).toMatchObject({ method: 'POST', url: `/2010-04-01/Accounts/${accountSid}/Messages.json` });
    expect(request!.headers.authorization).toBe(`Basic ${Buffer.from(`${accountSid}:${authToken}`).toString('base64')}`);
    expect(request!.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(Object.fromEntries(new URLSearchParams(request!.body))).toEqual({ To: to, From: '+15005550006', Body: text });

    expect(entries()).toContainEqual(expect.objectContaining({ msg: 'sms accepted', sid: `SM${'0'.repeat(32)}`, status: 'queued', to: '+44••••••••23' }));
    expect(raw()).not.toContain('493817');
    expect(raw()).not.toContain(authToken);
  });

  it('sends through a Messaging Service when `from` is one', async () => {
    const twilio = await startServer(json(201, { sid: 'SM1', status: 'accepted' }));
    const service = `MG${'b2'.repeat(16)}`;
    await sender({ provider: 'twilio', accountSid, authToken, from: service, baseUrl: twilio.url }).send(to, text);
    expect(Object.fromEntries(new URLSearchParams(twilio.received[0]!.body))).toEqual({ To: to, MessagingServiceSid: service, Body: text });
  });

  it("surfaces Twilio's error message and code", async () => {
    const twilio = await startServer(json(400, { code: 21211, message: "The 'To' number is not a valid phone number.", more_info: 'https://www.twilio.com/docs/errors/21211', status: 400 }));
    await expect(sender({ provider: 'twilio', accountSid, authToken, from: '+15005550006', baseUrl: twilio.url }).send(to, text))
      .rejects.toThrow("SMS provider twilio answered 400: The 'To' number is not a valid phone number. (error 21211)");
  });

  it('turns a 500 and a timeout into clear errors', async () => {
    const broken = await startServer((_request, response) => response.writeHead(500).end('<html>oops</html>'));
    await expect(sender({ provider: 'twilio', accountSid, authToken, from: '+15005550006', baseUrl: broken.url }).send(to, text))
      .rejects.toThrow(/^SMS provider twilio answered 500$/);
    const silent = await startServer(() => { /* never answers */ });
    await expect(sender({ provider: 'twilio', accountSid, authToken, from: '+15005550006', baseUrl: silent.url, timeoutMs: 300 }).send(to, text))
      .rejects.toThrow('SMS provider twilio unreachable: no answer within 300 ms');
  });
});

describe('console SMS provider and config', () => {
  it('logs the message at info (development only) and sends nothing', async () => {
    const { logger, entries } = capturedLogger();
    await sender({ provider: 'console' }, logger).send(to, text);
    expect(entries()).toContainEqual(expect.objectContaining({ level: 30, provider: 'console', to, text }));
  });

  it('defaults to console, fills defaults, and names bad settings', () => {
    expect(smsConfigSchema.parse(undefined)).toEqual({ provider: 'console' });
    const twilio = smsConfigSchema.parse({ provider: 'twilio', accountSid, authToken, from: '+15005550006' }) as Extract<SmsConfig, { provider: 'twilio' }>;
    expect(twilio).toMatchObject({ baseUrl: 'https://api.twilio.com', timeoutMs: 5000 });
    expect(smsConfigSchema.safeParse({ provider: 'webhook', url: 'http://127.0.0.1/x', secret: 'short' }).success).toBe(false);
    expect(smsConfigSchema.safeParse({ provider: 'twilio', accountSid: 'nope', authToken, from: '+1' }).success).toBe(false);
    expect(smsConfigSchema.safeParse({ provider: 'carrier-pigeon' }).success).toBe(false);
  });
});
