import type { ApiLookup } from '../apis/api-registry.js';
import { BadRequestError, ConflictError, NotFoundError, assertThat } from '../errors/app-error.js';
import type { Database } from '../infra/unit-of-work.js';
import type { Repositories } from '../repositories.js';
import type { Role } from './role.entity.js';
import type { RoleAccountHolder, RoleClientHolder, RoleSummary } from './role-repository.js';

/** Lower-case, starts with a letter, at most 64 characters: safe in a token claim and a shell. */
export const roleNamePattern = /^[a-z][a-z0-9_.-]{0,63}$/;

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Who a role is assigned to: an account (by id or email) or a client (by client_id). */
export type RoleHolder = { account: string } | { client: string };

/** A role with its permissions grouped per API and how many accounts and clients hold it. */
export interface RoleDetail extends Role {
  permissions: Array<{ api: string; permissions: string[] }>;
  holders: { accounts: number; clients: number };
}

/** Who holds a role: a page of its accounts by email (`next` continues after it) and every client. */
export interface RoleHolders { accounts: RoleAccountHolder[]; next?: string; clients: RoleClientHolder[] }

/** Runs inside the transaction on the locked role before a change: throw to refuse it (If-Match). */
export interface RoleChangeOptions { precondition?: (current: RoleDetail) => void }

export interface RbacServiceDeps { db: Database<Repositories>; apis: ApiLookup }

/** Roles, permissions and assignments; every change is audited in the transaction that makes it. */
export function createRbacService({ db, apis }: RbacServiceDeps) {
  async function mustFindRole(repos: Repositories, name: string): Promise<Role> {
    const role = roleNamePattern.test(name) ? await repos.roles.findByName(name) : null;
    assertThat(role, new NotFoundError('role_not_found', `no role named ${name}`));
    return role;
  }

  /** Resolves the holder to the audit fields naming it, failing when it doesn't exist. */
  async function mustFindHolder(repos: Repositories, holder: RoleHolder): Promise<{ accountId: string } | { clientId: string }> {
    if ('client' in holder) {
      const client = await repos.clients.findById(holder.client);
      assertThat(client, new NotFoundError('client_not_found', `no client with id ${holder.client}`));
      return { clientId: client.clientId };
    }
    const account = holder.account.includes('@') ? await repos.accounts.findByEmail(holder.account)
      : uuidPattern.test(holder.account) ? await repos.accounts.findById(holder.account) : null;
    assertThat(account, new NotFoundError('account_not_found', `no account ${holder.account}`));
    return { accountId: account.id };
  }

  /**
   * A permission is one of the scopes a registered API declares (config `apis` or `apis create`);
   * nothing else can be granted. The admin API's scopes come from the `admin` role, not from grants.
   */
  async function checkPermission(api: string, permission: string): Promise<void> {
    const declared = await apis.find(api, { fresh: true });
    assertThat(declared, new BadRequestError('unknown_api', `${api} is not a registered API (config apis or apis create)`));
    assertThat(declared.source !== 'builtin', new BadRequestError('unknown_api', `${api} is the built-in admin API: its scopes come with the admin role, not with permissions`));
    assertThat(declared.scopes.includes(permission), new BadRequestError('unknown_permission',
      `${permission} is not a scope declared by ${api}; declared: ${declared.scopes.join(' ') || '(none)'}`));
  }

  async function detail(repos: Repositories, role: Role): Promise<RoleDetail> {
    const [rows, counts] = await Promise.all([repos.roles.permissionsOf(role.id), repos.roles.holderCounts([role.id])]);
    return { ...role, permissions: groupPermissions(rows), holders: counts.get(role.id) ?? { accounts: 0, clients: 0 } };
  }

  /** Finds and locks the role for the rest of the transaction, then runs the caller's precondition. */
  async function lockRole(repos: Repositories, name: string, options: RoleChangeOptions): Promise<{ role: Role; current: RoleDetail }> {
    const role = roleNamePattern.test(name) ? await repos.roles.findByNameForUpdate(name) : null;
    assertThat(role, new NotFoundError('role_not_found', `no role named ${name}`));
    const current = await detail(repos, role);
    options.precondition?.(current);
    return { role, current };
  }

  return {
    async create(name: string, description: string | undefined, actor: string): Promise<Role> {
      assertThat(roleNamePattern.test(name), new BadRequestError('invalid_role_name', 'a role name is 1-64 characters of a-z, 0-9, _ . - and starts with a letter'));
      return db.transaction(async (repos) => {
        const role = await repos.roles.create(name, description?.trim() || null);
        assertThat(role, new ConflictError('role_exists', `a role named ${name} already exists`));
        await repos.audit.append({ type: 'role.created', actor, details: { role: name } });
        return role;
      });
    },

    list: (): Promise<RoleSummary[]> => db.repos.roles.list(),

    /** Every role with its permissions per API and its holder counts, by name. */
    async overview(): Promise<RoleDetail[]> {
      const [roles, counts] = await Promise.all([db.repos.roles.list(), db.repos.roles.holderCounts()]);
      return roles.map(({ permissions, ...role }) => ({ ...role, permissions: groupPermissions(permissions), holders: counts.get(role.id) ?? { accounts: 0, clients: 0 } }));
    },

    async show(name: string): Promise<RoleDetail> {
      return detail(db.repos, await mustFindRole(db.repos, name));
    },

    /**
     * The role's holders: up to `limit` accounts (1-1000) by email after `after`, with `next` set
     * when more follow, and every client holding it.
     */
    async holders(name: string, { limit = 25, after }: { limit?: number; after?: string } = {}): Promise<RoleHolders> {
      assertThat(Number.isInteger(limit) && limit >= 1 && limit <= 1000, new BadRequestError('invalid_limit', 'limit must be a whole number from 1 to 1000'));
      const role = await mustFindRole(db.repos, name);
      const [batch, clients] = await Promise.all([db.repos.roles.accountHolders(role.id, limit + 1, after || undefined), db.repos.roles.clientHolders(role.id)]);
      const accounts = batch.slice(0, limit);
      return { accounts, clients, ...(batch.length > limit ? { next: accounts.at(-1)!.email } : {}) };
    },

    /** Changes the description (empty or null clears it); audited with before/after when it changed. */
    async update(name: string, changes: { description?: string | null }, actor: string, options: RoleChangeOptions = {}): Promise<RoleDetail> {
      const description = changes.description === undefined ? undefined : changes.description?.trim() || null;
      if (description && description.length > 500) throw new BadRequestError('invalid_description', 'description is at most 500 characters');
      return db.transaction(async (repos) => {
        const { role, current } = await lockRole(repos, name, options);
        if (description === undefined || description === role.description) return current;
        await repos.roles.updateDescription(role.id, description);
        await repos.audit.append({ type: 'role.updated', actor, details: { role: name, before: { description: role.description }, after: { description } } });
        return detail(repos, { ...role, description });
      });
    },

    /**
     * Makes `permissions` the role's whole set on `api`; new ones must be scopes the API declares,
     * ones it no longer declares may stay or go. Audited with before/after when the set changed.
     */
    async setPermissions(name: string, api: string, permissions: string[], actor: string, options: RoleChangeOptions = {}): Promise<RoleDetail> {
      const wanted = [...new Set(permissions)].sort();
      return db.transaction(async (repos) => {
        const { role, current } = await lockRole(repos, name, options);
        const held = current.permissions.find((entry) => entry.api === api)?.permissions ?? [];
        const added = wanted.filter((permission) => !held.includes(permission));
        const removed = held.filter((permission) => !wanted.includes(permission));
        if (!added.length && !removed.length) return current;
        for (const permission of added) await checkPermission(api, permission);
        for (const permission of added) await repos.roles.grant(role.id, api, permission);
        for (const permission of removed) await repos.roles.revoke(role.id, api, permission);
        await repos.audit.append({ type: 'role.permissions_changed', actor, details: { role: name, api, before: { permissions: held }, after: { permissions: wanted } } });
        return detail(repos, role);
      });
    },

    /** Deleting a role removes its permissions and every assignment of it. */
    async delete(name: string, actor: string): Promise<void> {
      await db.transaction(async (repos) => {
        const role = await mustFindRole(repos, name);
        await repos.roles.delete(role.id);
        await repos.audit.append({ type: 'role.deleted', actor, details: { role: name } });
      });
    },

    /** Returns whether the permission is new; granting a held one changes nothing and records nothing. */
    async grant(name: string, api: string, permission: string, actor: string): Promise<boolean> {
      await checkPermission(api, permission);
      return db.transaction(async (repos) => {
        const role = await mustFindRole(repos, name);
        const added = await repos.roles.grant(role.id, api, permission);
        if (added) await repos.audit.append({ type: 'role.permission_granted', actor, details: { role: name, api, permission } });
        return added;
      });
    },

    /** Not validated against config, so a permission an API no longer declares can still be removed. */
    async revoke(name: string, api: string, permission: string, actor: string): Promise<boolean> {
      return db.transaction(async (repos) => {
        const role = await mustFindRole(repos, name);
        const removed = await repos.roles.revoke(role.id, api, permission);
        if (removed) await repos.audit.append({ type: 'role.permission_revoked', actor, details: { role: name, api, permission } });
        return removed;
      });
    },

    async assign(name: string, holder: RoleHolder, actor: string): Promise<void> {
      await db.transaction(async (repos) => {
        const role = await mustFindRole(repos, name);
        const target = await mustFindHolder(repos, holder);
        if ('clientId' in target) await repos.roles.assignToClient(target.clientId, role.id);
        else await repos.roles.assign(target.accountId, role.id);
        await repos.audit.append({ type: 'role.assigned', actor, ...target, details: { role: name } });
      });
    },

    /** Returns whether the holder had the role. */
    async unassign(name: string, holder: RoleHolder, actor: string): Promise<boolean> {
      return db.transaction(async (repos) => {
        const role = await mustFindRole(repos, name);
        const target = await mustFindHolder(repos, holder);
        const removed = 'clientId' in target ? await repos.roles.unassignFromClient(target.clientId, role.id) : await repos.roles.unassign(target.accountId, role.id);
        if (removed) await repos.audit.append({ type: 'role.unassigned', actor, ...target, details: { role: name } });
        return removed;
      });
    },

    rolesForAccount: (accountId: string) => db.repos.roles.namesForAccount(accountId),
    rolesForClient: (clientId: string) => db.repos.roles.namesForClient(clientId),
    permissionsFor: (roleNames: readonly string[], api: string) => db.repos.roles.permissionsFor(roleNames, api),
  };
}

/** Flat (api, permission) rows, sorted, grouped per API. */
function groupPermissions(rows: ReadonlyArray<{ api: string; permission: string }>): RoleDetail['permissions'] {
  const byApi = new Map<string, string[]>();
  for (const { api, permission } of rows) byApi.set(api, [...(byApi.get(api) ?? []), permission]);
  return [...byApi].map(([api, permissions]) => ({ api, permissions }));
}

export type RbacService = ReturnType<typeof createRbacService>;
