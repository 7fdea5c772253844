import { describe, expect, it } from 'vitest';
import { canonicalEmail, emailKey, isCanonicalEmail } from '../../src/identifiers/canonical-email.js';
import { requireCanonicalEmail, EmailRefusedError } from '../../src/identifiers/email-refused-error.js';
import { canonicalUuid } from '../../src/identifiers/opaque-id.js';
import { throttleSubject } from '../../src/identifiers/throttle-subject.js';
import { subjectKey } from '../../src/infra/rate-limiter-store.js';

describe('canonicalEmail: accepted spellings and their one canonical form', () => {
  it.each([
    ['mixed case', 'Alice@Example.COM', 'alice@example.com'],
    ['surrounding white space', '  alice@example.com\t', 'alice@example.com'],
    ['fullwidth letters, at sign and dot', 'ａｌｉｃｅ＠ｅｘａｍｐｌｅ．ｃｏｍ', 'alice@example.com'],
    ['ASCII capital I', 'Inci@example.com', 'inci@example.com'],
    ['combining acute composes with e', 'rene\u0301@example.com', 'ren\u00e9@example.com'],
    ['precomposed é', 'REN\u00c9@example.com', 'ren\u00e9@example.com'],
    ['IDN domain to Punycode', 'anna@Bücher.Example', 'anna@xn--bcher-kva.example'],
    ['Punycode domain as is', 'anna@xn--bcher-kva.example', 'anna@xn--bcher-kva.example'],
    ['Kelvin sign (NFKC)', '\u212aate@example.com', 'kate@example.com'],
    ['ligature ﬁ (NFKC)', '\ufb01le@example.com', 'file@example.com'],
    ['long s (NFKC to s)', '\u017fam@example.com', 'sam@example.com'],
    ['plus tag kept', 'Alice+News@example.com', 'alice+news@example.com'],
    ['Greek capital sigma lowers without context', 'ΑΣ@example.com', 'ασ@example.com'],
    ['Devanagari with vowel signs', 'नमस्ते@example.com', 'नमस्ते@example.com'],
  ])('%s: %j → %j', (_label, input, expected) => {
    const result = canonicalEmail(input);
    expect(result).toMatchObject({ ok: true, canonical: expected });
    // Idempotent: the canonical form is its own canonical form.
    expect(emailKey(expected)).toBe(expected);
    expect(isCanonicalEmail(expected)).toBe(true);
  });

  it('keeps the person\'s spelling (NFKC, case kept) as the display form', () => {
    expect(canonicalEmail(' Alice@Example.com ')).toMatchObject({ ok: true, display: 'Alice@Example.com' });
    expect(canonicalEmail('ａｌｉｃｅ＠example.com')).toMatchObject({ ok: true, display: 'alice@example.com' });
    expect(canonicalEmail('anna@Bücher.example')).toMatchObject({ ok: true, display: 'anna@Bücher.example' });
  });
});

describe('canonicalEmail: refusals', () => {
  it.each([
    ['U+0130 capital I with dot (lowers to two code points)', '\u0130nci@example.com', 'email_ambiguous'],
    ['U+0130 in the domain', 'inci@\u0130stanbul.example', 'email_ambiguous'],
    ['U+0131 dotless i (upper-lower gives i)', '\u0131nci@example.com', 'email_ambiguous'],
    ['i + combining dot above (what İ lowers to)', 'i\u0307nci@example.com', 'email_ambiguous'],
    ['sharp s (upper is SS)', 'stra\u00dfe@example.com', 'email_ambiguous'],
    ['final sigma', 'ας@example.com', 'email_ambiguous'],
    ['j with caron (upper is two code points)', '\u01f0ack@example.com', 'email_ambiguous'],
    ['combining mark with no letter', '\u0301alice@example.com', 'email_ambiguous'],
    ['zero-width joiner', 'ali\u200dce@example.com', 'email_control_characters'],
    ['zero-width space', 'ali\u200bce@example.com', 'email_control_characters'],
    ['right-to-left override', 'alice\u202e@example.com', 'email_control_characters'],
    ['bidi isolate', '\u2066alice@example.com', 'email_control_characters'],
    ['NUL', 'alice\u0000@example.com', 'email_control_characters'],
    ['C1 control', 'alice\u0085x@example.com', 'email_control_characters'],
    ['soft hyphen', 'ali\u00adce@example.com', 'email_control_characters'],
    ['NUL in the domain', 'alice@exam\u0000ple.com', 'email_control_characters'],
    ['inner space', 'ali ce@example.com', 'invalid_email'],
    ['private use', 'alice\ue000@example.com', 'invalid_email'],
    ['lone surrogate', 'alice\ud800@example.com', 'invalid_email'],
    ['no at sign', 'alice.example.com', 'invalid_email'],
    ['two at signs', 'a@b@example.com', 'invalid_email'],
    ['empty local part', '@example.com', 'invalid_email'],
    ['trailing dot in the domain', 'alice@example.com.', 'invalid_email'],
    ['single-label domain', 'alice@localhost', 'invalid_email'],
    ['empty label', 'alice@example..com', 'invalid_email'],
    ['percent-encoding in the domain', 'alice@exa%41mple.com', 'invalid_email'],
    ['underscore in the domain', 'alice@ex_ample.com', 'invalid_email'],
    ['invalid Punycode', 'alice@xn--zz.com', 'invalid_email'],
    ['all-numeric top-level label', 'alice@1.2.3.4', 'invalid_email'],
    ['IP literal', 'alice@[127.0.0.1]', 'invalid_email'],
    ['empty', '   ', 'invalid_email'],
    ['too long', `${'a'.repeat(310)}@example.com`, 'invalid_email'],
  ])('%s', (_label, input, code) => {
    const result = canonicalEmail(input);
    expect(result).toMatchObject({ ok: false, code });
    expect(emailKey(input)).toBeUndefined();
  });

  it('names the field and the offending code point in the error', () => {
    const error = (() => {
      try { requireCanonicalEmail('alice\u202e@example.com', 'email'); } catch (e) { return e; }
    })();
    expect(error).toBeInstanceOf(EmailRefusedError);
    expect(error).toMatchObject({ status: 400, code: 'email_control_characters', field: 'email' });
    expect((error as Error).message).toBe('email contains an invisible or control character (U+202E)');
  });
});

describe('throttle and rate-limit keys', () => {
  it('gives every spelling of one address one key, and the old key for plain ASCII addresses', () => {
    const keys = ['alice@example.com', 'ALICE@EXAMPLE.COM', ' Alice@Example.com ', 'ａｌｉｃｅ＠ｅｘａｍｐｌｅ．ｃｏｍ'].map(subjectKey);
    expect(new Set(keys).size).toBe(1);
    expect(throttleSubject('Alice@Example.com')).toBe('alice@example.com');
  });

  it('refuses an ambiguous address instead of counting it under some key', () => {
    expect(() => subjectKey('\u0130nci@example.com')).toThrow(EmailRefusedError);
    expect(() => subjectKey('alice\u200b@example.com')).toThrow(EmailRefusedError);
  });

  it('folds only ASCII hex case of IPs and ids', () => {
    expect(throttleSubject('2001:DB8::1')).toBe('2001:db8::1');
    expect(throttleSubject('unknown')).toBe('unknown');
    expect(canonicalUuid('0A1B2C3D-0000-4000-8000-00000000000F')).toBe('0a1b2c3d-0000-4000-8000-00000000000f');
    expect(canonicalUuid('0a1b2c3d-0000-4000-8000-00000000000\u212a')).toBeUndefined();
  });
});
