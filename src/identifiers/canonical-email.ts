import { domainToASCII } from 'node:url';

/** An email address in its one canonical form (see `canonicalEmail`): the only thing keys are made from. */
export type CanonicalEmail = string & { readonly __identifier: 'canonical-email' };

/**
 * Why an address is refused. `invalid_email`: not shaped like an address (or its domain is not a
 * valid IDNA name). `email_ambiguous`: a character whose case mapping or composition is not stable,
 * so two spellings could mean one account. `email_control_characters`: an invisible or control
 * character (C0/C1 controls, NUL, zero-width characters, bidi overrides and isolates, soft hyphen).
 */
export type EmailRefusalCode = 'invalid_email' | 'email_ambiguous' | 'email_control_characters';

export type CanonicalEmailResult =
  | { ok: true; canonical: CanonicalEmail; display: string }
  | { ok: false; code: EmailRefusalCode; reason: string };

/** RFC 3696 errata: an address of more than 320 characters can't be delivered anyway. */
export const MAX_EMAIL_LENGTH = 320;

// Cc: C0/C1 controls and NUL. Cf: format characters, which include ZWSP/ZWJ/ZWNJ (U+200B–200D), the
// bidi marks, embeddings, overrides and isolates (U+200E/F, U+202A–202E, U+2066–2069, U+061C), soft
// hyphen and the BOM. Zl/Zp: line and paragraph separators.
const CONTROL = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;
// Lone surrogates, private use and unassigned code points (whose mappings a later Unicode version
// may define, which would change the canonical form under a stored row), and any inner white space.
const UNUSABLE = /[\p{Cs}\p{Co}\p{Cn}\s]/u;
// A combining mark with no letter under it, or on a Latin, Greek or Cyrillic letter: NFC composes
// every letter those scripts write with precomposed forms, so a mark left over there is a respelling
// (U+0130 "İ" lower-cases to "i" + U+0307, which would otherwise be a second spelling of "i").
const STRAY_MARK = /(?:^|[^\p{L}\p{M}]|[\p{Script=Latin}\p{Script=Greek}\p{Script=Cyrillic}])\p{M}/u;
// Before IDNA: letters, marks, digits, hyphens and dots (U+3002 is an IDNA dot) — no %, [, ], / or _.
const DOMAIN_CHARACTERS = /^[\p{L}\p{M}\p{N}.\u3002-]+$/u;
// After IDNA: LDH labels (RFC 1123), at least two, the last not all digits (RFC 3696 §2).
const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

const refuse = (code: EmailRefusalCode, reason: string): CanonicalEmailResult => ({ ok: false, code, reason });
const hex = (ch: string) => `U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;

/** Lower-cases one code point at a time (no locale, no Final_Sigma context); undefined when that is not stable. */
function stableLower(text: string): { lowered: string } | { unstable: string } {
  let lowered = '';
  for (const ch of text) {
    const lower = ch.toLowerCase();
    // U+0130 "İ" → "i̇" (two code points); U+0131 "ı" → upper "I" → "i"; "ß" → "SS" → "ss"; "ς" → "Σ" → "σ".
    if ([...lower].length !== 1 || lower.toUpperCase().toLowerCase() !== lower) return { unstable: ch };
    lowered += lower;
  }
  return { lowered };
}

function canonicalDomain(domain: string): string | undefined {
  if (!DOMAIN_CHARACTERS.test(domain) || /[.\u3002]$/u.test(domain)) return undefined;
  // UTS #46 processing (the WHATWG URL host parser): case-folds, maps and Punycode-encodes each label.
  const ascii = domainToASCII(domain);
  const labels = ascii.split('.');
  if (!ascii || ascii.length > 253 || labels.length < 2) return undefined;
  if (!labels.every((label) => LABEL.test(label))) return undefined;
  return /^\d+$/.test(labels.at(-1)!) ? undefined : ascii;
}

/**
 * The one canonical form of an email address, used for lookup, uniqueness, throttle and rate-limit
 * keys and audit. The rule, in order:
 *
 * 1. Trim white space at both ends (String.prototype.trim); refuse more than 320 characters.
 * 2. Unicode NFKC: fullwidth "ａｌｉｃｅ＠ｅｘａｍｐｌｅ．ｃｏｍ", ligatures and the Kelvin sign become
 *    their plain forms; "e" + U+0301 and "é" become one.
 * 3. Refuse (`email_control_characters`) any Cc, Cf, Zl or Zp character: NUL and other controls,
 *    zero-width space/joiners, bidi overrides and isolates, soft hyphen.
 * 4. Refuse (`invalid_email`) inner white space, lone surrogates, private-use and unassigned code points.
 * 5. Refuse (`email_ambiguous`) a combining mark that NFC left on a Latin, Greek or Cyrillic letter
 *    or on no letter at all ("i" + U+0307), and any character whose lower case is not one code
 *    point that survives upper-then-lower casing: U+0130 "İ", U+0131 "ı", "ß", final "ς", "ǰ".
 *    Everything else is lower-cased one code point at a time with the locale-independent Unicode
 *    default mapping, so the result is the same on every machine and canonical(canonical(x)) = canonical(x).
 * 6. Exactly one "@", a non-empty local part (kept as written apart from case: no dot or "+tag"
 *    removal — those are different mailboxes at most providers).
 * 7. The domain goes through IDNA (url.domainToASCII, UTS #46): "bücher.example" becomes
 *    "xn--bcher-kva.example". Refuse a domain IDNA rejects, a trailing dot, a single label, labels
 *    that are not letters/digits/hyphens, or an all-numeric top-level label.
 *
 * This is not a homoglyph check: Cyrillic "а" and Latin "a" stay distinct addresses, as mail
 * servers deliver them to different mailboxes. `display` is the address as typed after steps 1–2,
 * case kept: what is stored in `accounts.email` and where mail is sent.
 */
export function canonicalEmail(input: string): CanonicalEmailResult {
  const tooLong = 'must be an email address of at most 320 characters';
  const trimmed = input.trim();
  if (!trimmed || trimmed.length > MAX_EMAIL_LENGTH) return refuse('invalid_email', tooLong);
  const display = trimmed.normalize('NFKC');
  const control = CONTROL.exec(display);
  if (control) {
    return refuse('email_control_characters', `contains an invisible or control character (${hex(control[0])})`);
  }
  const unusable = UNUSABLE.exec(display);
  if (unusable) {
    return refuse('invalid_email', `contains a character that can't be part of an address (${hex(unusable[0])})`);
  }
  const mark = STRAY_MARK.exec(display);
  if (mark) {
    const markChar = [...mark[0]].at(-1)!;
    return refuse('email_ambiguous', `contains a combining mark that makes it ambiguous (${hex(markChar)})`);
  }
  const lower = stableLower(display);
  if ('unstable' in lower) {
    return refuse('email_ambiguous', `contains a character with no single lower-case form (${hex(lower.unstable)})`);
  }
  if (lower.lowered.normalize('NFKC') !== lower.lowered) return refuse('email_ambiguous', 'has no stable normal form');
  const parts = lower.lowered.split('@');
  if (parts.length !== 2 || !parts[0]) {
    return refuse('invalid_email', 'must be an email address such as name@example.com');
  }
  const domain = canonicalDomain(parts[1]!);
  if (!domain) return refuse('invalid_email', 'must have a valid domain, such as example.com');
  const canonical = `${parts[0]}@${domain}`;
  if (canonical.length > MAX_EMAIL_LENGTH) return refuse('invalid_email', tooLong);
  return { ok: true, canonical: canonical as CanonicalEmail, display };
}

/** Whether `value` is already in canonical form (what every email-derived key must be). */
export function isCanonicalEmail(value: string): value is CanonicalEmail {
  const result = canonicalEmail(value);
  return result.ok && result.canonical === value;
}

/** A keyset cursor over canonical emails: the canonical form of `after` (any spelling), else `after` as given. */
export function emailCursor(after: string | undefined): string | null {
  if (after === undefined || after === '') return null;
  const result = canonicalEmail(after);
  return result.ok ? result.canonical : after;
}

/** A search text folded as canonicalEmail folds (trim, NFKC, lower case per code point), to match canonical forms. */
export function emailSearchKey(text: string): string {
  let folded = '';
  for (const ch of text.trim().normalize('NFKC')) folded += ch.toLowerCase();
  return folded;
}

/** The canonical form of `value`, or undefined when canonicalEmail refuses it (for lookups and comparisons). */
export function emailKey(value: string): CanonicalEmail | undefined {
  const result = canonicalEmail(value);
  return result.ok ? result.canonical : undefined;
}
