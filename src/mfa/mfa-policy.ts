/** ACR values (OIDC Core §2): what a sign-in proved. */
export const acr = { password: 'urn:portcullis:acr:pwd', mfa: 'urn:portcullis:acr:mfa' } as const;

export interface MfaPolicyInput {
  accountRequiresMfa: boolean;
  roles: string[];
  requiredRoles: string[];
  clientRequiresMfa: boolean;
  /** The request's acr_values, space-separated. */
  acrValues?: string;
}

/** Whether a second factor is due: per account, per role, per client, or asked for with acr_values. */
export function mfaRequired(input: MfaPolicyInput): boolean {
  return input.accountRequiresMfa
    || input.roles.some((role) => input.requiredRoles.includes(role))
    || input.clientRequiresMfa
    || requestsMfa(input.acrValues);
}

/** The client asked for a multi-factor sign-in (step-up). */
export function requestsMfa(acrValues: unknown): boolean {
  return typeof acrValues === 'string' && acrValues.split(' ').includes(acr.mfa);
}

/** The RFC 8176 values a second factor passed during a sign-in adds; a "trust this device" pass adds only `mfa`. */
const performedFactors = new Set(['otp', 'sms', 'hwk', 'swk']);

/** Whether a session's amr shows a second factor actually passed, rather than skipped on a trusted device. */
export function performedSecondFactor(amr: unknown): boolean {
  return Array.isArray(amr) && amr.some((value) => performedFactors.has(value as string));
}
