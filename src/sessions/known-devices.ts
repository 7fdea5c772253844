import { createHmac, randomBytes } from 'node:crypto';
import type { Context } from 'koa';
import { safeEqual } from '../http/constant-time.js';

/** Browsers keep a cookie at most 400 days (RFC 6265bis §5.5); a browser seen once stays known that long. */
const maxAgeMs = 400 * 86_400_000;

/**
 * Recognises a browser an account signed in on before by a cookie it was given then: a random
 * device id bound to the account, MACed with a server key. Nothing about the browser itself is
 * looked at (no fingerprinting): clearing cookies or a new browser is simply a new device.
 */
export function createKnownDevices({ key, secure }: { key: string; secure: boolean }) {
  // One cookie per account on a shared browser; the name doesn't reveal the account id.
  const name = (accountId: string) => `pcl.device.${createHmac('sha256', key).update(`device-name:${accountId}`).digest('base64url').slice(0, 16)}`;
  const mac = (payload: string) => createHmac('sha256', key).update(`known-device:${payload}`).digest('base64url');

  return {
    /** True when this browser holds a valid device cookie for the account. */
    isKnown(ctx: Context, accountId: string): boolean {
      const parts = ctx.cookies.get(name(accountId))?.split('.');
      if (parts?.length !== 3) return false;
      const [deviceId, boundTo, signature] = parts as [string, string, string];
      return safeEqual(mac(`${deviceId}.${boundTo}`), signature) && boundTo === accountId;
    },
    /** Gives this browser a new device id for the account. */
    remember(ctx: Context, accountId: string): void {
      const payload = `${randomBytes(16).toString('base64url')}.${accountId}`;
      ctx.cookies.set(name(accountId), `${payload}.${mac(payload)}`, { httpOnly: true, sameSite: 'lax', secure, maxAge: maxAgeMs, path: '/', signed: false, overwrite: true });
    },
  };
}

export type KnownDevices = ReturnType<typeof createKnownDevices>;
