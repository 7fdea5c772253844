import type { Context } from 'koa';
import { describe, expect, it } from 'vitest';
import { createKnownDevices } from '../../src/sessions/known-devices.js';

/** A browser's cookie jar behind the two ctx.cookies calls the module makes. */
function browser(jar = new Map<string, string>()) {
  const cookies = { get: (name: string) => jar.get(name), set: (name: string, value: string) => jar.set(name, value) };
  return { jar, ctx: { cookies } as unknown as Context };
}

describe('known devices', () => {
  const devices = createKnownDevices({ key: 'k'.repeat(64), secure: true });
  const alice = '6f1c1a52-4a7e-4c1e-9d59-3c1c5b1f0a01';
  const bob = '0b7e0c4d-1f0a-4a4b-8a7e-5a2b7c9d1e02';

  it('knows a browser it gave a cookie to, for that account only; the cookie names no account', () => {
    const { jar, ctx } = browser();
    expect(devices.isKnown(ctx, alice)).toBe(false);
    devices.remember(ctx, alice);
    expect(devices.isKnown(ctx, alice)).toBe(true);
    expect(devices.isKnown(ctx, bob)).toBe(false);
    for (const [name, value] of jar) expect(`${name}=${value}`).not.toContain(alice);
  });

  it('refuses a cookie moved to another account, a changed device id, and a cookie made with another key', () => {
    const { jar, ctx } = browser();
    devices.remember(ctx, alice);
    const [[aliceName, value]] = [...jar] as [[string, string]];
    devices.remember(ctx, bob);
    const bobName = [...jar.keys()].find((name) => name !== aliceName)!;
    jar.set(bobName, value);
    expect(devices.isKnown(ctx, bob)).toBe(false);
    jar.set(aliceName, `x${value}`);
    expect(devices.isKnown(ctx, alice)).toBe(false);
    const other = browser();
    createKnownDevices({ key: 'o'.repeat(64), secure: true }).remember(other.ctx, alice);
    expect(devices.isKnown(browser(new Map([[aliceName, [...other.jar.values()][0]!]])).ctx, alice)).toBe(false);
  });
});
