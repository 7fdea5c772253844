import { describe, expect, it } from 'vitest';
import { randomString } from '../../src/infra/random-pool.js';

describe('randomString', () => {
  it('never hands out the same bytes twice, across refills of the pool', () => {
    // 16-byte draws: 256 per 4 KiB pool, so 2,000 draws span several refills.
    const drawn = Array.from({ length: 2000 }, () => randomString(16, 'hex'));
    expect(new Set(drawn).size).toBe(drawn.length);
    for (const value of drawn) expect(value).toMatch(/^[0-9a-f]{32}$/);
  });

  it('encodes the size asked for and refuses more than the pool holds', () => {
    expect(Buffer.from(randomString(16, 'base64'), 'base64')).toHaveLength(16);
    expect(Buffer.from(randomString(32, 'base64url'), 'base64url')).toHaveLength(32);
    expect(() => randomString(4097, 'hex')).toThrow(RangeError);
  });
});
