/** Absolute links for emails; an interaction uid lets the person continue the sign-in they started. */
export function createAccountLinks(issuer: string) {
  const link = (path: string, params: Record<string, string | undefined>) => {
    const url = new URL(path, `${issuer}/`);
    for (const [key, value] of Object.entries(params)) if (value) url.searchParams.set(key, value);
    return url.toString();
  };
  return {
    verifyEmail: (token: string, returnTo?: string) => link('verify-email', { token, return: returnTo }),
    resetPassword: (token: string) => link('reset-password', { token }),
    unlock: (token: string) => link('unlock', { token }),
    confirmEmailChange: (token: string) => link('account/email/confirm', { token }),
    forgotPassword: () => link('forgot-password', {}),
    account: () => link('account', {}),
    /** Where a "was this you?" notice sends the person (account/security-router.ts). */
    security: () => link('account/security', {}),
  };
}

export type AccountLinks = ReturnType<typeof createAccountLinks>;
