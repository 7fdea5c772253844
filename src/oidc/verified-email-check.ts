import { interactionPolicy, type KoaContextWithOIDC } from 'oidc-provider';

const { Check } = interactionPolicy;

/**
 * A login-prompt check: a session whose account has an unverified email does not satisfy a client
 * that needs a verified one, so a session started at a lenient client (allow_unverified_email)
 * can't be reused at a strict one. The login page then shows "confirm your email" as it does for
 * a fresh sign-in; `prompt=none` gets login_required.
 */
export function verifiedEmailCheck(requireVerifiedEmail: boolean) {
  return new Check('email_not_verified', 'the client requires a verified email address', 'login_required', async (ctx: KoaContextWithOIDC) => {
    const { session, client, account } = ctx.oidc;
    if (!requireVerifiedEmail || !session?.accountId || !account) return Check.NO_NEED_TO_PROMPT;
    if ((client as { allow_unverified_email?: boolean } | undefined)?.allow_unverified_email === true) return Check.NO_NEED_TO_PROMPT;
    // 'userinfo': ID token claims are cut to the client's id_token_claims (client-claims.ts), which may omit email_verified.
    const claims = await account.claims('userinfo', 'email', {}, []);
    return claims.email_verified === true ? Check.NO_NEED_TO_PROMPT : Check.REQUEST_PROMPT;
  });
}
