import { interactionPolicy, type KoaContextWithOIDC } from 'oidc-provider';
import { acr, requestsMfa } from '../mfa/mfa-policy.js';
import { verifiedEmailCheck } from './verified-email-check.js';

const { Check, base } = interactionPolicy;

/**
 * oidc-provider's prompts plus two login checks. A signed-in person whose session lacks a second
 * factor is sent back to the login prompt when the client asks for one (acr_values, step-up) or
 * always requires one; and one whose email is unverified, when the client needs it verified
 * (see verified-email-check.ts). Without them an existing session would satisfy any client.
 */
export function createInteractionPolicy(options: { requireVerifiedEmail: boolean }) {
  const policy = base();
  policy.get('login')!.checks.add(verifiedEmailCheck(options.requireVerifiedEmail));
  policy.get('login')!.checks.add(new Check('mfa_required', 'a second factor is required', (ctx: KoaContextWithOIDC) => {
    const { session, client, params } = ctx.oidc;
    if (!session?.accountId) return Check.NO_NEED_TO_PROMPT;
    const wanted = requestsMfa(params?.acr_values) || (client as { require_mfa?: boolean } | undefined)?.require_mfa === true;
    return wanted && session.acr !== acr.mfa ? Check.REQUEST_PROMPT : Check.NO_NEED_TO_PROMPT;
  }));
  return policy;
}
