import { requireCanonicalEmail } from './email-refused-error.js';
import { isOpaqueId } from './opaque-id.js';

/**
 * The one spelling of a rate-limit, lockout or CAPTCHA subject. An email (or anything that is not a
 * plain ASCII id) becomes its canonical form — or is refused with a 400 before any counter moves —
 * so "Alice@x", "ａｌｉｃｅ@x" and " alice@x " share one counter. IPs, UUIDs and the "unknown" IP
 * placeholder are ASCII: only their hex case is folded (IPv6 "ABCD::1" is "abcd::1").
 */
export function throttleSubject(value: string): string {
  const trimmed = value.trim();
  if (!trimmed.includes('@') && isOpaqueId(trimmed)) return trimmed.replace(/[A-Z]/g, (ch) => ch.toLowerCase());
  return requireCanonicalEmail(trimmed).canonical;
}
