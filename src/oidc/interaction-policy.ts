import { interactionPolicy, type KoaContextWithOIDC } from 'oidc-provider';
import { requestsPrivilegedApi } from '../apis/privileged-api-policy.js';
import { acr, performedSecondFactor, requestsMfa } from '../mfa/mfa-policy.js';
import { sessionLifetimeCheck } from './session-lifetime.js';
import { verifiedEmailCheck } from './verified-email-check.js';

const { Check, base } = interactionPolicy;

/**
 * oidc-provider's prompts plus three login checks. A session past its idle timeout or lifetime
 * signs in again (session-lifetime.ts). A signed-in person whose session lacks a second
 * factor is sent back to the login prompt when the client asks for one (acr_values, step-up) or
 * always requires one; and one whose email is unverified, when the client needs it verified
 * (see verified-email-check.ts). Without them an existing session would satisfy any client.
 */
export function createInteractionPolicy(options: {
  requireVerifiedEmail: boolean;
  /** The API registry: a request for a privileged API is a step-up (privileged-api-policy.ts). */
  apis: Parameters<typeof requestsPrivilegedApi>[2];
}) {
  const policy = base();
  policy.get('login')!.checks.add(sessionLifetimeCheck());
  policy.get('login')!.checks.add(verifiedEmailCheck(options.requireVerifiedEmail));
  /** Whether this sign-in must pass a second factor now, and which session satisfies that. */
  const mfaCheck = async (ctx: KoaContextWithOIDC) => {
    const { session, client, params } = ctx.oidc;
    if (!session?.accountId) return Check.NO_NEED_TO_PROMPT;
    const stepUp = requestsMfa(params?.acr_values)
      || await requestsPrivilegedApi(params?.resource, client, options.apis);
    const wanted = stepUp || (client as { require_mfa?: boolean } | undefined)?.require_mfa === true;
    if (!wanted) return Check.NO_NEED_TO_PROMPT;
    if (session.acr !== acr.mfa) return Check.REQUEST_PROMPT;
    // An explicit step-up asks for a factor now: a session whose second factor was skipped on a
    // trusted device doesn't satisfy it (a fresh sign-in with acr_values ignores the device too).
    return stepUp && !performedSecondFactor(session.amr) ? Check.REQUEST_PROMPT : Check.NO_NEED_TO_PROMPT;
  };
  policy.get('login')!.checks.add(new Check('mfa_required', 'a second factor is required', mfaCheck));
  return policy;
}
