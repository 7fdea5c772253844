import { describe, expect, it } from 'vitest';
import { retryDelayMs, safeErrorText } from '../../src/outbox/outbox-backoff.js';

const settings = { backoffBaseSeconds: 5, backoffMaxSeconds: 3600 };

describe('retryDelayMs', () => {
  it('doubles from the base per attempt, between half and all of the step (equal jitter)', () => {
    expect([1, 2, 3, 4].map((attempts) => retryDelayMs(attempts, settings, () => 1)))
      .toEqual([5000, 10_000, 20_000, 40_000]);
    expect([1, 2, 3, 4].map((attempts) => retryDelayMs(attempts, settings, () => 0)))
      .toEqual([2500, 5000, 10_000, 20_000]);
  });

  it('never exceeds the cap, however many attempts', () => {
    expect(retryDelayMs(40, settings, () => 1)).toBe(3_600_000);
    expect(retryDelayMs(40, settings, () => 0)).toBe(1_800_000);
  });

  it('spreads messages that failed together', () => {
    const delays = new Set(Array.from({ length: 20 }, () => retryDelayMs(3, settings)));
    expect(delays.size).toBeGreaterThan(1);
    for (const delay of delays) expect(delay).toBeGreaterThanOrEqual(10_000);
  });
});

describe('safeErrorText', () => {
  it('keeps the reason and drops links and one-time codes', () => {
    const error = new Error(
      '550 rejected https://id.example.test/reset-password?token=abcdefghijklmnop for code 123456');
    expect(safeErrorText(error)).toBe('550 rejected [link] for code [code]');
  });

  it('names non-generic errors and bounds the length', () => {
    const error = Object.assign(new Error('x'.repeat(1000)), { name: 'SmsDeliveryError' });
    expect(safeErrorText(error).startsWith('SmsDeliveryError: xxx')).toBe(true);
    expect(safeErrorText(error)).toHaveLength(300);
    expect(safeErrorText('plain')).toBe('plain');
  });
});
