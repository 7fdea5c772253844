import { describe, expect, it } from 'vitest';
import type { BreachChecker } from '../../src/accounts/breach-checker.js';
import { createPasswordPolicy, type PasswordVerdict } from '../../src/accounts/password-policy.js';
import type { Config } from '../../src/config/schema.js';

const policyConfig: Config['passwordPolicy'] = {
  minLength: 15, minLengthWithMfa: 8, maxLength: 256, minScore: 3,
  hibp: { enabled: true, baseUrl: 'http://127.0.0.1:9', timeoutMs: 100 },
};
const context = { email: 'alice.smith@example.com', name: 'Alice Smith' };

/** A fake breach corpus that records what it was asked. */
function fakeBreaches(breached: string[] = []) {
  const seen: string[] = [];
  const checker: BreachChecker = { isBreached: async (password) => { seen.push(password); return breached.includes(password); } };
  return { checker, seen };
}

const codes = (verdict: PasswordVerdict) => (verdict.ok ? [] : verdict.problems.map((p) => p.code));

describe('password policy (NIST SP 800-63B rev 4)', () => {
  const policy = createPasswordPolicy({ policy: policyConfig });

  it('needs 15 characters without a second factor, and allows 8 when MFA is required', async () => {
    expect(await policy.check('Vq8#mZ2!pL4@xR7', context)).toEqual({ ok: true });
    const short = await policy.check('Vq8#mZ2!pL4@xR', context);
    expect(short).toEqual({ ok: false, problems: [{ code: 'too_short', params: { minLength: 15 } }] });
    expect(await policy.check('Vq8#mZ2!', { ...context, mfaRequired: true })).toEqual({ ok: true });
    expect(codes(await policy.check('Vq8#mZ2', { ...context, mfaRequired: true }))).toContain('too_short');
  });

  it('counts Unicode code points after NFKC, not UTF-16 units or bytes', async () => {
    const fifteen = 'ÅßÇðÉƒĝĥÏĵķłɱñø';
    expect(await policy.check(fifteen, context)).toEqual({ ok: true });
    expect(codes(await policy.check(fifteen.slice(0, 14), context))).toEqual(['too_short']);
    // "å" fifteen times passes the length rule (it is only refused for being a repeat).
    expect(codes(await policy.check('å'.repeat(15), context))).not.toContain('too_short');
    // NFKC applies before counting: "ŀ" is "l" + middle dot, two characters.
    expect(codes(await policy.check('ÅßÇðÉƒĝĥÏĵķŀɱñ', context))).not.toContain('too_short');
    // Decomposed "a" + combining ring is one character once normalised, as NIST asks.
    expect(codes(await policy.check('a\u030A'.repeat(14), context))).toContain('too_short');
    // Astral characters are two UTF-16 units but one character each.
    expect(codes(await policy.check('🦊🐙🦄🐝🌵🍄🪐🚲🎻🧭🪁🛶🧊🪴🥨', context))).not.toContain('too_short');
  });

  it('accepts 256 characters and refuses 257 as too long, never truncating', async () => {
    const base = 'quiet otter maps velvet harbour ';
    const long = base.repeat(8); // 256
    expect(long).toHaveLength(256);
    expect(await policy.check(long, context)).toEqual({ ok: true });
    expect(await policy.check(`${long}x`, context)).toEqual({ ok: false, problems: [{ code: 'too_long', params: { maxLength: 256 } }] });
  });

  it('judges the whole string: a problem past any prefix still counts', async () => {
    const { checker, seen } = fakeBreaches();
    const checked = createPasswordPolicy({ policy: policyConfig, breachChecker: checker });
    const strong = 'quiet otter maps velvet harbour '.repeat(6);
    expect(codes(await checked.check(`${strong}alice.smith`, context))).toEqual(['contains_email']);
    await checked.check(`${strong}!`, context);
    expect(seen).toEqual([`${strong}!`]);
  });

  it('refuses common and guessable passwords as too_common', async () => {
    for (const common of ['password123password', 'iloveyouiloveyou', 'qwertyuiopasdfghjkl', 'P@ssw0rd123456789']) {
      expect(codes(await policy.check(common, context)), common).toContain('too_common');
    }
    // The user's own name counts as a guessable word.
    expect(codes(await policy.check('jorvik quixwell 1', { email: 'jq@example.com', name: 'Jorvik Quixwell' }))).toEqual(['too_common']);
    expect(await policy.check('jorvik quixwell 1', { email: 'jq@example.com', name: 'Ada Lovelace' })).toEqual({ ok: true });
  });

  it('refuses a password containing the email local part, case-insensitively', async () => {
    const verdict = await policy.check('zebra kettle ALICE.SMITH orbit', context);
    expect(codes(verdict)).toContain('contains_email');
    expect(codes(await policy.check('zebra kettle alice orbit lantern', { email: 'alice+news@example.com' }))).toContain('contains_email');
    // Local parts under 3 characters are too short to matter.
    expect(await policy.check('zebra kettle orbit lantern', { email: 'or@example.com' })).toEqual({ ok: true });
  });

  it('has no composition rules: a long all-lowercase passphrase passes', async () => {
    expect(await policy.check('purple monkey dishwasher rides', context)).toEqual({ ok: true });
    expect(await policy.check('zebrakettleorbitlantern', context)).toEqual({ ok: true });
  });

  it('asks the breach corpus only when every cheaper check passed and HIBP is on', async () => {
    const { checker, seen } = fakeBreaches(['zebra kettle orbit lantern']);
    const checked = createPasswordPolicy({ policy: policyConfig, breachChecker: checker });
    expect(await checked.check('zebra kettle orbit lantern', context)).toEqual({ ok: false, problems: [{ code: 'breached' }] });
    expect(await checked.check('purple monkey dishwasher rides', context)).toEqual({ ok: true });
    await checked.check('short', context);
    await checked.check('password123password', context);
    await checked.check('zebra kettle alice.smith orbit', context);
    expect(seen).toEqual(['zebra kettle orbit lantern', 'purple monkey dishwasher rides']);

    const off = fakeBreaches(['zebra kettle orbit lantern']);
    const disabled = createPasswordPolicy({ policy: { ...policyConfig, hibp: { ...policyConfig.hibp, enabled: false } }, breachChecker: off.checker });
    expect(await disabled.check('zebra kettle orbit lantern', context)).toEqual({ ok: true });
    expect(off.seen).toEqual([]);
  });
});
