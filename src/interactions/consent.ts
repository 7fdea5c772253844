import type Provider from 'oidc-provider';

type Details = Awaited<ReturnType<Provider['interactionDetails']>>;

interface MissingDetails { missingOIDCScope?: string[]; missingOIDCClaims?: string[]; missingResourceScopes?: Record<string, string[]> }

/** Grants what the consent prompt says is missing, reusing the existing grant when there is one. */
export async function grantConsent(provider: Provider, details: Details): Promise<string> {
  const { missingOIDCScope, missingOIDCClaims, missingResourceScopes } = details.prompt.details as MissingDetails;
  const grant = details.grantId
    ? (await provider.Grant.find(details.grantId))!
    : new provider.Grant({ accountId: details.session!.accountId, clientId: String(details.params.client_id) });
  if (missingOIDCScope) grant.addOIDCScope(missingOIDCScope.join(' '));
  if (missingOIDCClaims) grant.addOIDCClaims(missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(missingResourceScopes ?? {})) grant.addResourceScope(indicator, scopes.join(' '));
  return grant.save();
}

const scopeText: Record<string, string> = {
  openid: 'Know who you are',
  email: 'See your email address',
  profile: 'See your name',
  offline_access: 'Stay signed in when you are not using it',
};

/** Human descriptions of what a consent would grant. */
export function describeScopes(details: Details): string[] {
  const { missingOIDCScope = [], missingResourceScopes = {} } = details.prompt.details as MissingDetails;
  return [
    ...missingOIDCScope.map((scope) => scopeText[scope] ?? scope),
    ...Object.entries(missingResourceScopes).flatMap(([api, scopes]) => scopes.map((scope) => `${scope} on ${api}`)),
  ];
}
