import { acr as acrValues, performedSecondFactor } from '../mfa/mfa-policy.js';

/**
 * Who a token for an API acts for:
 * - `account`: a person, through a sign-in whose `acr`/`amr` the grant carries (code, refresh, device, CIBA);
 * - `client`: the client itself (client credentials);
 * - `api_key`: an API key's owner, the key being its own credential (token exchange);
 * - `pending`: nobody yet (authorization, PAR or device authorization request): the token
 *   endpoint asks again once the sign-in is known.
 */
export type PrivilegedSubject =
  | { kind: 'account'; acr?: unknown; amr?: unknown }
  | { kind: 'client' }
  | { kind: 'api_key' }
  | { kind: 'pending' };

export interface PrivilegedAccess {
  api: { identifier: string; privileged: boolean };
  /** The client asking for (or holding) the token, as oidc-provider metadata (`client_id`, `allow_admin_api`). */
  client: unknown;
  subject: PrivilegedSubject;
}

/** Client metadata property an operator sets (`clients update --allow-admin-api`) to allow privileged APIs. */
export const privilegedClientProperty = 'allow_admin_api';

/** Whether the operator allowed this client privileged APIs: the console's own client and clients flagged so. */
export function clientMayUsePrivilegedApis(client: unknown): boolean {
  return (client as Record<string, unknown> | undefined)?.[privilegedClientProperty] === true;
}

/** A sign-in that passed a second factor now, not a "trusted device" pass: the admin console's own rule. */
export function signInPassedSecondFactor(acr: unknown, amr: unknown): boolean {
  return acr === acrValues.mfa && performedSecondFactor(amr);
}

/**
 * THE rule for privileged APIs (the built-in admin API and every API marked `privileged`), asked
 * by every path that mints a token for one (resource-servers.ts, api-key-exchange.ts) and by the
 * admin API on every call (admin-auth.ts). Undefined when allowed; otherwise why not, for the
 * error_description. Ordinary APIs are always allowed here (their scopes are limited elsewhere).
 */
export function privilegedAccessRefusal({ api, client, subject }: PrivilegedAccess): string | undefined {
  if (!api.privileged) return undefined;
  if (!clientMayUsePrivilegedApis(client)) {
    const clientId = (client as { client_id?: unknown; clientId?: unknown } | undefined);
    const id = String(clientId?.client_id ?? clientId?.clientId ?? 'unknown');
    return `${api.identifier} is a privileged API: client ${id} is not allowed to obtain tokens for it`
      + ' (an operator allows it with clients update --allow-admin-api)';
  }
  if (subject.kind === 'account' && !signInPassedSecondFactor(subject.acr, subject.amr)) {
    return `${api.identifier} is a privileged API: a token for a person needs a sign-in that passed a second factor`
      + ` (acr ${acrValues.mfa}; request it with acr_values=${acrValues.mfa})`;
  }
  return undefined;
}

/** The `resource` parameter of an authorization request as a list (RFC 8707 §2 allows it more than once). */
export function resourcesOf(resource: unknown): string[] {
  if (typeof resource === 'string') return [resource];
  return Array.isArray(resource) ? resource.filter((value): value is string => typeof value === 'string') : [];
}

/**
 * Whether an authorization request asks an allowed client's tokens for a privileged API: the
 * sign-in must then pass a second factor now (a trusted device doesn't count), as for
 * `acr_values=urn:portcullis:acr:mfa`, so the code it ends with can be exchanged. A client that
 * is not allowed is refused at the resource (privilegedAccessRefusal) whatever the sign-in proves.
 */
export async function requestsPrivilegedApi(resource: unknown, client: unknown,
  apis: { find(identifier: string): Promise<{ privileged: boolean } | undefined> }): Promise<boolean> {
  if (!clientMayUsePrivilegedApis(client)) return false;
  const found = await Promise.all(resourcesOf(resource).map((identifier) => apis.find(identifier)));
  return found.some((api) => api?.privileged === true);
}
