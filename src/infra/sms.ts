import { createHmac } from 'node:crypto';
import { z } from 'zod';
import type { Logger } from './logger.js';

/** Sends one text message; rejects with an SmsDeliveryError when the provider did not accept it. */
export interface SmsSender {
  send(to: string, text: string): Promise<void>;
}

const timeoutMs = z.number().int().positive().default(5000);

/** The `sms` config section: which provider delivers one-time codes, and its credentials. */
export const smsConfigSchema = z.discriminatedUnion('provider', [
  z.object({
    provider: z.literal('twilio'),
    accountSid: z.string().regex(/^AC[0-9a-fA-F]{32}$/, 'a Twilio Account SID is "AC" and 32 hex digits'),
    authToken: z.string().min(1),
    /** A sender number in E.164, an alphanumeric sender id, or a Messaging Service SID ("MG…"). */
    from: z.string().min(1),
    baseUrl: z.url().default('https://api.twilio.com'),
    timeoutMs,
  }),
  z.object({
    provider: z.literal('webhook'),
    url: z.url(),
    /** Shared with the receiver, which recomputes the signature; long and random. */
    secret: z.string().min(32, 'use at least 32 random characters'),
    timeoutMs,
  }),
  // Development only: the message, code included, goes to the log.
  z.object({ provider: z.literal('console') }),
]).default({ provider: 'console' });

export type SmsConfig = z.infer<typeof smsConfigSchema>;

/** A provider refused the message, answered with an error, or did not answer in time. */
export class SmsDeliveryError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SmsDeliveryError';
  }
}

export interface SmsSenderDeps {
  logger: Pick<Logger, 'info' | 'debug'>;
  fetch?: typeof fetch;
}

/** Phone numbers are personal data: logs keep the country code and the last two digits. */
export function maskPhone(phone: string): string {
  return phone.length <= 6 ? '•'.repeat(phone.length) : `${phone.slice(0, 3)}${'•'.repeat(phone.length - 5)}${phone.slice(-2)}`;
}

/**
 * The signature a webhook receiver recomputes: HMAC-SHA256 over "<timestamp>.<body>", as Stripe
 * and GitHub do, so a captured request can't be replayed once its timestamp is stale.
 */
export function webhookSignature(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/** The SmsSender for the configured provider. */
export function createSmsSender(config: SmsConfig, deps: SmsSenderDeps): SmsSender {
  const fetchImpl = deps.fetch ?? globalThis.fetch;
  const { logger } = deps;

  /** One POST with a deadline covering the body too; the error names the provider, never the message. */
  async function post(provider: string, url: string, init: RequestInit, ms: number): Promise<unknown> {
    let response: Response;
    let body: string;
    try {
      // redirect: 'error' — a provider that redirects is misconfigured, and credentials must not follow.
      response = await fetchImpl(url, { ...init, method: 'POST', redirect: 'error', signal: AbortSignal.timeout(ms) });
      body = await response.text();
    } catch (error) {
      const reason = error instanceof Error && error.name === 'TimeoutError' ? `no answer within ${ms} ms`
        : error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error);
      throw new SmsDeliveryError(`SMS provider ${provider} unreachable: ${reason}`, { cause: error });
    }
    if (!response.ok) {
      throw new SmsDeliveryError(`SMS provider ${provider} answered ${response.status}${describeError(body)}`);
    }
    try {
      return body ? JSON.parse(body) as unknown : undefined;
    } catch {
      return undefined;
    }
  }

  switch (config.provider) {
    case 'twilio': {
      const url = `${config.baseUrl.replace(/\/+$/, '')}/2010-04-01/Accounts/${encodeURIComponent(config.accountSid)}/Messages.json`;
      const authorization = `Basic ${Buffer.from(`${config.accountSid}:${config.authToken}`).toString('base64')}`;
      // Twilio takes either a sender (From) or a Messaging Service that picks one (MessagingServiceSid).
      const sender: Record<string, string> = /^MG[0-9a-fA-F]{32}$/.test(config.from) ? { MessagingServiceSid: config.from } : { From: config.from };
      return {
        async send(to, text) {
          const form = new URLSearchParams({ To: to, ...sender, Body: text });
          const answer = await post('twilio', url, { headers: { authorization, 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString() }, config.timeoutMs);
          const { sid, status } = (answer ?? {}) as { sid?: string; status?: string };
          logger.debug({ provider: 'twilio', to: maskPhone(to), sid, status }, 'sms accepted');
        },
      };
    }
    case 'webhook':
      return {
        async send(to, text) {
          const timestamp = String(Math.floor(Date.now() / 1000));
          const body = JSON.stringify({ to, text, timestamp: Number(timestamp) });
          await post('webhook', config.url, {
            headers: {
              'content-type': 'application/json',
              'x-portcullis-timestamp': timestamp,
              'x-portcullis-signature': webhookSignature(config.secret, timestamp, body),
            },
            body,
          }, config.timeoutMs);
          logger.debug({ provider: 'webhook', to: maskPhone(to) }, 'sms accepted');
        },
      };
    case 'console':
      return {
        async send(to, text) {
          // Development only: printing the text (and so the code) is the whole point of this provider.
          logger.info({ provider: 'console', to, text }, 'sms (console provider, not sent)');
        },
      };
  }
}

/** A short reason from an error body: Twilio's `message` and `code`, else nothing (bodies may echo input). */
function describeError(body: string): string {
  try {
    const parsed = JSON.parse(body) as { message?: unknown; code?: unknown };
    if (typeof parsed.message === 'string') {
      return `: ${parsed.message.slice(0, 200)}${parsed.code !== undefined ? ` (error ${String(parsed.code)})` : ''}`;
    }
  } catch {
    // Not JSON: the status alone has to do.
  }
  return '';
}
