import type { Context } from 'koa';
import type { FlowContext } from '../accounts/account-flow-deps.js';
import type { PasswordProblem } from '../accounts/password-policy.js';
import type { Config } from '../config/schema.js';
import { translator, type Locale } from '../i18n/i18n.js';

/** Who is asking, for services: IP, user agent, language. */
export function flowContext(ctx: Context, clientId?: string): FlowContext {
  return { ip: ctx.state.clientIp, userAgent: ctx.get('user-agent') || undefined, clientId, locale: ctx.state.locale as Locale };
}

/** Translates a request-language catalogue key. */
export function tr(ctx: Context, key: string, params?: Record<string, string | number>): string {
  return translator(ctx.state.locale as Locale)(key, params);
}

/** Field errors as catalogue keys → messages in the request's language. */
export function translateErrors(ctx: Context, errors: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(errors).map(([field, key]) => [field, tr(ctx, key)]));
}

/** One message per refused password rule. */
export function passwordProblemText(ctx: Context, problems: PasswordProblem[]): string {
  return problems.map((problem) => tr(ctx, `pages.password.${problem.code}`, { min: problem.params?.minLength ?? '', max: problem.params?.maxLength ?? '' })).join(' ');
}

/** What the strength meter needs to mirror the server's policy. */
export function meterSettings(policy: Config['passwordPolicy']) {
  return { minLength: policy.minLength, maxLength: policy.maxLength, minScore: policy.minScore };
}
