import type { Config } from '../config/schema.js';
import type { Database } from '../infra/unit-of-work.js';
import type { Locale } from '../i18n/i18n.js';
import type { Repositories } from '../repositories.js';
import type { AccountLinks } from './account-links.js';
import type { AccountNotifier } from './account-notifier.js';
import type { PasswordHasher } from './password-hasher.js';
import type { PasswordPolicy } from './password-policy.js';

/** What every self-service account flow needs. */
export interface AccountFlowDeps {
  db: Database<Repositories>;
  hasher: PasswordHasher;
  policy: PasswordPolicy;
  notifier: AccountNotifier;
  links: AccountLinks;
  settings: Config['accounts'];
  /** Ends every session of an account and revokes its refresh tokens (optionally keeping one session). */
  revokeSessions: (accountId: string, options?: { keepSessionId?: string }) => Promise<unknown>;
  /** Revokes every refresh token of an account, leaving its sessions. */
  revokeRefreshTokens: (accountId: string) => Promise<unknown>;
  now?: () => Date;
}

/** Who is asking: recorded with every audit event, and the language for emails. */
export interface FlowContext { ip?: string; userAgent?: string; clientId?: string; locale: Locale }

/** A flow context as a job payload carries it: plain JSON, only the fields it has. */
export function jobContext(context: FlowContext): FlowContext {
  return JSON.parse(JSON.stringify({
    ip: context.ip, userAgent: context.userAgent, clientId: context.clientId, locale: context.locale,
  })) as FlowContext;
}

/** The audit fields a flow context contributes. */
export function auditContext(context: FlowContext) {
  return { ip: context.ip, userAgent: context.userAgent, clientId: context.clientId };
}
