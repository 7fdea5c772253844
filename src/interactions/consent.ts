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

/** Human descriptions of what a consent would grant, in the page's language. */
export function describeScopes(details: Details, t: (key: string, params?: Record<string, string>) => string): string[] {
  const { missingOIDCScope = [], missingResourceScopes = {} } = details.prompt.details as MissingDetails;
  const known = new Set(['openid', 'email', 'profile', 'offline_access', 'roles']);
  return [
    ...missingOIDCScope.map((scope) => (known.has(scope) ? t(`pages.consent.scope.${scope}`) : scope)),
    ...Object.entries(missingResourceScopes).flatMap(([api, scopes]) => scopes.map((scope) => t('pages.consent.scope.api', { scope, api }))),
  ];
}
