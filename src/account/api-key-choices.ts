import { z } from 'zod';
import { adminApiIdentifier } from '../admin/api/admin-api.js';

/** An API a personal key may be bound to, as the registry (or config `apis`) describes it. */
export interface ApiDescription { identifier: string; name?: string | null; scopes: readonly string[]; rbac: boolean }

/** Where the APIs come from: the API registry, or config `apis`. */
export interface ApiSource { list(): Promise<readonly ApiDescription[]> }

/** What decides a person's scopes on an rbac API (rbac-service.ts). */
export interface PermissionLookup {
  rolesForAccount(accountId: string): Promise<string[]>;
  permissionsFor(roleNames: readonly string[], api: string): Promise<string[]>;
}

/** An API offered on the page, with the scopes this person may put on a key for it. */
export interface ApiChoice { identifier: string; name: string; scopes: string[] }

/**
 * The APIs a person may bind a key to, each with the scopes it declares, cut for an rbac API to
 * those the person's roles allow. The admin API is never offered: admin keys are made by admins.
 */
export async function apiChoicesFor(accountId: string, { apis, permissions, issuer }: { apis: ApiSource; permissions: PermissionLookup; issuer: string }): Promise<ApiChoice[]> {
  const admin = adminApiIdentifier(issuer);
  const offered = (await apis.list()).filter((api) => api.identifier !== admin);
  const roles = offered.some((api) => api.rbac) ? await permissions.rolesForAccount(accountId) : [];
  return Promise.all(offered.map(async (api) => {
    const allowed = api.rbac ? new Set(await permissions.permissionsFor(roles, api.identifier)) : undefined;
    return { identifier: api.identifier, name: api.name || api.identifier, scopes: api.scopes.filter((scope) => !allowed || allowed.has(scope)) };
  }));
}

/** Longest expiry offered; there is no config maximum, this only keeps dates sane. */
export const maxExpiryDays = 3650;

const createForm = z.object({
  name: z.string().trim().min(1, 'pages.api_keys.name_invalid').max(60, 'pages.api_keys.name_invalid'),
  api: z.string().max(2000).default(''),
  expiresInDays: z.string().trim().regex(/^\d*$/, 'pages.api_keys.expiry_invalid').default('')
    .refine((days) => days === '' || (Number(days) >= 1 && Number(days) <= maxExpiryDays), 'pages.api_keys.expiry_invalid'),
});

export interface NewKeyRequest { name: string; api: string | null; scopes: string[]; expiresInDays: number | null }

/**
 * Reads the create form. Scope checkboxes are fields `scope.<n>` whose value is
 * `<api identifier> <scope>` (a form body keeps one value per name); a ticked scope must belong to
 * the chosen API and be one this person may use. Errors are catalogue keys per field.
 */
export function parseNewKey(form: Record<string, string>, choices: readonly ApiChoice[]): { request: NewKeyRequest } | { errors: Record<string, string> } {
  const errors: Record<string, string> = {};
  const parsed = createForm.safeParse(form);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) errors[String(issue.path[0])] ??= issue.message;
    return { errors };
  }
  const { name, api, expiresInDays } = parsed.data;
  const choice = api === '' ? undefined : choices.find((candidate) => candidate.identifier === api);
  if (api !== '' && !choice) return { errors: { api: 'pages.api_keys.api_invalid' } };
  const ticked = Object.entries(form).filter(([field]) => /^scope\.\d{1,3}$/.test(field)).map(([, value]) => value.split(' '));
  const scopes = ticked.filter(([identifier]) => identifier === api).map(([, scope]) => scope ?? '');
  // A scope of another API, or one the person may not hold, is refused rather than dropped.
  if (scopes.length !== ticked.length || scopes.some((scope) => !choice?.scopes.includes(scope))) return { errors: { scopes: 'pages.api_keys.scope_invalid' } };
  return { request: { name, api: choice?.identifier ?? null, scopes: [...new Set(scopes)], expiresInDays: expiresInDays === '' ? null : Number(expiresInDays) } };
}
