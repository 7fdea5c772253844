/**
 * Opaque identifiers (account and other UUIDs, client ids, API key ids) are compared byte for byte:
 * they are ASCII by construction, so they are never trimmed, Unicode-normalised or case-folded —
 * folding one in one place and not another is how two spellings reach one thing under two keys.
 * The only canonicalisation is a UUID's hex case, because PostgreSQL's uuid type reads back lower-case.
 */
const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const ASCII_UPPER = /[A-Z]/g;

/** A UUID in its canonical (lower-case hex) form, or undefined when `value` is not a UUID. */
export function canonicalUuid(value: string): string | undefined {
  // ASCII-only lowering: no Unicode case mapping can turn a look-alike into a hex digit.
  return UUID.test(value) ? value.replace(ASCII_UPPER, (ch) => String.fromCharCode(ch.charCodeAt(0) + 32)) : undefined;
}

/** Whether `value` is a plausible opaque id: 1–255 printable ASCII characters, nothing to fold. */
export function isOpaqueId(value: string): boolean {
  return /^[\x21-\x7e]{1,255}$/.test(value);
}
