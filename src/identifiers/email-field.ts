import { z } from 'zod';
import { canonicalEmail, MAX_EMAIL_LENGTH } from './canonical-email.js';
import { emailRefusalMessageKey } from './email-refused-error.js';

/**
 * A form's email field: trimmed, required, and refused unless `canonicalEmail` accepts it. Messages
 * are catalogue keys (pages.account.invalid_email, .email_ambiguous, .email_control_characters), so
 * the page re-renders with a translated message before any lookup, counter or write.
 */
export function formEmailField(requiredKey = 'pages.login.enter_email') {
  const field = z.string().trim().min(1, requiredKey).max(MAX_EMAIL_LENGTH, 'pages.account.invalid_email');
  return field.superRefine((value, ctx) => {
    const result = canonicalEmail(value);
    if (!result.ok) ctx.addIssue({ code: 'custom', message: emailRefusalMessageKey(result.code) });
  });
}

/** An API or CLI email field: the same rule, with the reason as the message (the caller names the field). */
export function apiEmailField() {
  return z.string().max(MAX_EMAIL_LENGTH).superRefine((value, ctx) => {
    const result = canonicalEmail(value);
    if (!result.ok) ctx.addIssue({ code: 'custom', message: `${result.reason} (${result.code})` });
  });
}
