import { z } from 'zod';
import { formEmailField } from '../identifiers/email-field.js';

// Field messages are catalogue keys; handlers translate them. An address canonicalEmail refuses is a field error.
const email = formEmailField();
const password = z.string().min(1, 'pages.login.enter_password').max(4096, 'pages.password.too_long');
const uid = z.string().regex(/^[\w-]{10,64}$/);

export const loginForm = z.object({
  csrf: z.string(),
  email,
  password,
  remember: z.literal('on').optional(),
});

export const registerForm = z.object({
  csrf: z.string(),
  name: z.string().trim().max(200).optional(),
  email,
  password,
});

export const emailForm = z.object({ csrf: z.string(), email, return: uid.optional().catch(undefined) });

export const newPasswordForm = z.object({ csrf: z.string(), password, token: z.string().max(100).optional() });

export const tokenForm = z.object({ csrf: z.string(), token: z.string().max(100), return: uid.optional().catch(undefined) });

export const csrfOnlyForm = z.object({ csrf: z.string() });

/** An interaction uid passed through links (`return`), or undefined when malformed. */
export const returnParam = uid.optional().catch(undefined);

/** Field errors keyed by field name, as catalogue keys, from a failed parse. */
export function fieldErrors(error: z.ZodError): Record<string, string> {
  const errors: Record<string, string> = {};
  for (const issue of error.issues) {
    const field = String(issue.path[0] ?? 'form');
    errors[field] ??= issue.message.startsWith('pages.') ? issue.message : 'pages.common.required_field';
  }
  return errors;
}
