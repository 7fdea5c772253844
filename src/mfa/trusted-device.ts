import { createHmac } from 'node:crypto';
import type { Context } from 'koa';
import { safeEqual } from '../http/constant-time.js';

/**
 * "Trust this device": a cookie holding account id, the account's trusted-device epoch and an
 * expiry, MACed with a server key. Bumping the epoch (sign out everywhere, password reset, MFA
 * reset) voids every such cookie at once.
 */
export function createTrustedDevices({ key, secure, days }: { key: string; secure: boolean; days: number }) {
  const name = (accountId: string) => `pcl.trust.${createHmac('sha256', key).update(accountId).digest('base64url').slice(0, 16)}`;
  const mac = (payload: string) => createHmac('sha256', key).update(`trusted-device:${payload}`).digest('base64url');

  return {
    enabled: days > 0,
    remember(ctx: Context, accountId: string, epoch: number, now = Date.now()): void {
      if (days <= 0) return;
      const expires = now + days * 86_400_000;
      const payload = `${accountId}.${epoch}.${expires}`;
      ctx.cookies.set(name(accountId), `${payload}.${mac(payload)}`, { httpOnly: true, sameSite: 'lax', secure, maxAge: days * 86_400_000, path: '/', signed: false, overwrite: true });
    },
    isTrusted(ctx: Context, accountId: string, epoch: number, now = Date.now()): boolean {
      if (days <= 0) return false;
      const value = ctx.cookies.get(name(accountId));
      if (!value) return false;
      const parts = value.split('.');
      if (parts.length !== 4) return false;
      const [id, cookieEpoch, expires, signature] = parts as [string, string, string, string];
      const payload = `${id}.${cookieEpoch}.${expires}`;
      return safeEqual(mac(payload), signature) && id === accountId && Number(cookieEpoch) === epoch && Number(expires) > now;
    },
  };
}

export type TrustedDevices = ReturnType<typeof createTrustedDevices>;
