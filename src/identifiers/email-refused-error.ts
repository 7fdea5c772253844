import { BadRequestError } from '../errors/app-error.js';
import { canonicalEmail, type CanonicalEmail, type EmailRefusalCode } from './canonical-email.js';

/** 400 for an address `canonicalEmail` refuses; the message names the field and what is wrong with it. */
export class EmailRefusedError extends BadRequestError {
  constructor(override readonly code: EmailRefusalCode, readonly field: string, reason: string) {
    super(code, `${field} ${reason}`);
  }
}

/** The catalogue key a page shows for a refused address (en and fr in src/i18n/locales). */
export function emailRefusalMessageKey(code: EmailRefusalCode): string {
  return `pages.account.${code}`;
}

/** The canonical and display forms of `input`, or an EmailRefusedError naming `field`. */
export function requireCanonicalEmail(input: string, field = 'email'): { canonical: CanonicalEmail; display: string } {
  const result = canonicalEmail(input);
  if (!result.ok) throw new EmailRefusedError(result.code, field, result.reason);
  return { canonical: result.canonical, display: result.display };
}
