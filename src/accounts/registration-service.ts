import { ForbiddenError } from '../errors/app-error.js';
import { requireCanonicalEmail } from '../identifiers/email-refused-error.js';
import { jobContext, type AccountFlowDeps, type FlowContext } from './account-flow-deps.js';
import { AccountJob } from './account-jobs.js';
import { assertPasswordAccepted } from './password-errors.js';

export interface RegistrationInput { email: string; password: string; name?: string; returnTo?: string }

/**
 * Sign-up without account enumeration: a new address gets a verification link, an address that
 * already has an account gets a notice instead (both sent by the outbox worker), and the request
 * path does the same work either way, so answers and timings look the same.
 */
export function createRegistrationService(deps: AccountFlowDeps) {
  const { db, hasher, policy, notifier, settings } = deps;
  const now = deps.now ?? (() => new Date());

  return {
    async register(input: RegistrationInput, context: FlowContext): Promise<void> {
      if (!settings.registrationEnabled) throw new ForbiddenError('registration_disabled', 'Registration is closed.');
      // One canonical form: "Alice@x", "ａｌｉｃｅ@x" and " alice@x " are one address; an ambiguous one is refused.
      const { display: email } = requireCanonicalEmail(input.email);
      assertPasswordAccepted(await policy.check(input.password, { email, name: input.name }));
      // Hash on both paths so an existing address doesn't answer faster.
      const passwordHash = await hasher.hash(input.password);

      // The same statements whether or not the address is taken: the insert runs in a savepoint, and
      // a taken address only rolls that back. The worker then mails a link, or tells the owner.
      await db.transaction(async (repos, savepoint) => {
        const accountId = await savepoint(async (inner) => {
          const account = await inner.accounts.insert({
            email, emailVerified: false, passwordHash, name: input.name?.trim() || null, passwordChangedAt: now(),
          });
          return account.id;
        }).catch((error: unknown) => {
          if ((error as { code?: string }).code === 'email_taken') return null;
          throw error;
        });
        await notifier.enqueueJob(repos, AccountJob.registrationRequested,
          { email, accountId, returnTo: input.returnTo, context: jobContext(context) }, { accountId });
      });
    },
  };
}

export type RegistrationService = ReturnType<typeof createRegistrationService>;
