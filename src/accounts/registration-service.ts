import { ForbiddenError } from '../errors/app-error.js';
import { requireCanonicalEmail } from '../identifiers/email-refused-error.js';
import { auditContext, type AccountFlowDeps, type FlowContext } from './account-flow-deps.js';
import { issueLinkToken } from './account-tokens.js';
import { assertPasswordAccepted } from './password-errors.js';

export interface RegistrationInput { email: string; password: string; name?: string; returnTo?: string }

/**
 * Sign-up without account enumeration: a new address gets a verification link, an address that
 * already has an account gets a notice instead, and both answers (and timings) look the same.
 */
export function createRegistrationService(deps: AccountFlowDeps) {
  const { db, hasher, policy, notifier, links, settings } = deps;
  const now = deps.now ?? (() => new Date());

  return {
    async register(input: RegistrationInput, context: FlowContext): Promise<void> {
      if (!settings.registrationEnabled) throw new ForbiddenError('registration_disabled', 'Registration is closed.');
      // One canonical form: "Alice@x", "ａｌｉｃｅ@x" and " alice@x " are one address; an ambiguous one is refused.
      const { canonical, display: email } = requireCanonicalEmail(input.email);
      assertPasswordAccepted(await policy.check(input.password, { email, name: input.name }));
      // Hash on both paths so an existing address doesn't answer faster.
      const passwordHash = await hasher.hash(input.password);

      const existing = await db.repos.accounts.findByEmail(canonical);
      if (existing) {
        await db.repos.audit.append({ type: 'account.registration_duplicate', actor: 'anonymous', accountId: existing.id, ...auditContext(context) });
        notifier.send('account-exists', existing.email, context.locale, { loginLink: links.account(), resetLink: links.forgotPassword() });
        return;
      }

      const created = await db.transaction(async (repos) => {
        const account = await repos.accounts.insert({ email, emailVerified: false, passwordHash, name: input.name?.trim() || null, passwordChangedAt: now() });
        const token = await issueLinkToken(repos.accountTokens, { accountId: account.id, purpose: 'verify_email', email, ttlSeconds: settings.verificationTtl, now: now() });
        await repos.audit.append({ type: 'account.registered', actor: `account:${account.id}`, accountId: account.id, ...auditContext(context), details: { email: canonical } });
        return { account, token };
      }).catch(async (error: unknown) => {
        // Two sign-ups for one address raced: the loser is told nothing different.
        if ((error as { code?: string }).code === 'email_taken') return undefined;
        throw error;
      });
      if (!created) return;
      notifier.send('verify-email', email, context.locale, { link: links.verifyEmail(created.token, input.returnTo), expiresHours: Math.round(settings.verificationTtl / 3600) });
      await db.repos.audit.append({ type: 'email.verification_sent', actor: 'system', accountId: created.account.id, ...auditContext(context) });
    },
  };
}

export type RegistrationService = ReturnType<typeof createRegistrationService>;
