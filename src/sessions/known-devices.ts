import { createHmac, randomBytes } from 'node:crypto';
import type { Context } from 'koa';
import { safeEqual } from '../http/constant-time.js';

/** Browsers keep a cookie at most 400 days (RFC 6265bis §5.5); a browser seen once stays known that long. */
const maxAgeMs = 400 * 86_400_000;

/**
 * Recognises a browser an account signed in on before by a cookie it was given then: a random
 * device id and a MAC (server key) over it and the account id, so it counts for that account only.
 * Nothing about the browser itself is looked at (no fingerprinting): clearing cookies or a new
 * browser is simply a new device.
 */
export function createKnownDevices({ key, secure }: { key: string; secure: boolean }) {
  // One cookie per account on a shared browser; the name doesn't reveal the account id.
  const name = (accountId: string) =>
    `pcl.device.${createHmac('sha256', key).update(`device-name:${accountId}`).digest('base64url').slice(0, 16)}`;
  const mac = (payload: string) => createHmac('sha256', key).update(`known-device:${payload}`).digest('base64url');

  return {
    /** True when this browser holds a valid device cookie for the account. */
    isKnown(ctx: Context, accountId: string): boolean {
      const parts = ctx.cookies.get(name(accountId))?.split('.');
      if (parts?.length !== 2) return false;
      const [deviceId, signature] = parts as [string, string];
      return safeEqual(mac(`${deviceId}.${accountId}`), signature);
    },
    /** Gives this browser a new device id for the account; the MAC binds it to the account without naming it. */
    remember(ctx: Context, accountId: string): void {
      const deviceId = randomBytes(16).toString('base64url');
      ctx.cookies.set(name(accountId), `${deviceId}.${mac(`${deviceId}.${accountId}`)}`, {
        httpOnly: true, sameSite: 'lax', secure, maxAge: maxAgeMs, path: '/', signed: false, overwrite: true,
      });
    },
  };
}

export type KnownDevices = ReturnType<typeof createKnownDevices>;
