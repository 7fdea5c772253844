import { describe, expect, it } from 'vitest';
import { isRecentAuthGuard, requireRecentAuth, signedInWithin } from '../../src/account/recent-auth.js';

describe('signedInWithin', () => {
  const now = 1_800_000_000_000;
  it('counts a sign-in up to the limit as recent, and one a second older as stale', () => {
    expect(signedInWithin(now / 1000 - 300, 300, now)).toBe(true);
    expect(signedInWithin(now / 1000 - 301, 300, now)).toBe(false);
  });
  it('treats an unknown sign-in time as stale', () => {
    expect(signedInWithin(undefined, 300, now)).toBe(false);
  });
});

describe('requireRecentAuth', () => {
  it('marks its middleware so the route enumeration can find it', () => {
    const config = { issuer: 'https://id.example.test', mfa: { recentAuthSeconds: 300 } as never };
    expect(isRecentAuthGuard(requireRecentAuth(config))).toBe(true);
    expect(isRecentAuthGuard(async () => {})).toBe(false);
  });
});
