import type { RoleLookup } from './resource-servers.js';

/**
 * Answers memoised for one request only: oidc-provider asks for the same subject's roles from
 * several hooks of one request (resource server info, token claims, account claims). Keyed by the
 * request's Koa context, so nothing outlives the request and role changes apply to the next one.
 */
const memos = new WeakMap<object, Map<string, Promise<unknown>>>();

export function memoPerRequest<T>(ctx: unknown, key: string, load: () => Promise<T>): Promise<T> {
  if (typeof ctx !== 'object' || ctx === null) return load();
  let memo = memos.get(ctx);
  if (!memo) memos.set(ctx, (memo = new Map()));
  let answer = memo.get(key) as Promise<T> | undefined;
  if (!answer) {
    answer = load();
    memo.set(key, answer);
    // A failed read is not remembered: a later hook of the same request tries again.
    answer.catch(() => memo!.delete(key));
  }
  return answer;
}

/** Role names are handed out as arrays; each caller gets its own copy. */
export async function memoRolesOf(ctx: unknown, subject: 'account' | 'client', id: string, load: () => Promise<string[]>): Promise<string[]> {
  return [...await memoPerRequest(ctx, `roles:${subject}:${id}`, load)];
}

// Role names of a subject are the same from every lookup (they all read the role tables), but
// permissions may not be (admin-api.ts withAdminRole), so those are also keyed by the lookup.
const lookupIds = new WeakMap<RoleLookup, number>();
let lookupCount = 0;
const lookupId = (roles: RoleLookup): number => {
  let id = lookupIds.get(roles);
  if (id === undefined) lookupIds.set(roles, (id = ++lookupCount));
  return id;
};

/** `roles` with each answer read at most once per request (ctx). */
export function rolesForRequest(ctx: unknown, roles: RoleLookup): RoleLookup {
  const id = lookupId(roles);
  return {
    rolesForAccount: (accountId) => memoRolesOf(ctx, 'account', accountId, () => roles.rolesForAccount(accountId)),
    rolesForClient: (clientId) => memoRolesOf(ctx, 'client', clientId, () => roles.rolesForClient(clientId)),
    permissionsFor: async (roleNames, api) =>
      [...await memoPerRequest(ctx, `permissions:${id}:${api}:${JSON.stringify([...roleNames].sort())}`, () => roles.permissionsFor(roleNames, api))],
  };
}
