import type { ApiConfig } from '../config/schema.js';
import { BadRequestError, ConflictError, NotFoundError, assertThat } from '../errors/app-error.js';
import type { Database } from '../infra/unit-of-work.js';
import type { Repositories } from '../repositories.js';
import type { Role } from './role.entity.js';
import type { RoleSummary } from './role-repository.js';

/** Lower-case, starts with a letter, at most 64 characters: safe in a token claim and a shell. */
export const roleNamePattern = /^[a-z][a-z0-9_.-]{0,63}$/;

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Who a role is assigned to: an account (by id or email) or a client (by client_id). */
export type RoleHolder = { account: string } | { client: string };

export interface RbacServiceDeps { db: Database<Repositories>; apis: readonly ApiConfig[] }

/** Roles, permissions and assignments; every change is audited in the transaction that makes it. */
export function createRbacService({ db, apis }: RbacServiceDeps) {
  const apiByIdentifier = new Map(apis.map((api) => [api.identifier, api]));

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

  /** A permission is one of the scopes the API declares in config `apis`; nothing else can be granted. */
  function checkPermission(api: string, permission: string): void {
    const declared = apiByIdentifier.get(api);
    assertThat(declared, new BadRequestError('unknown_api', `${api} is not a registered API (config apis)`));
    assertThat(declared.scopes.includes(permission), new BadRequestError('unknown_permission',
      `${permission} is not a scope declared by ${api}; declared: ${declared.scopes.join(' ') || '(none)'}`));
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
      checkPermission(api, permission);
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

export type RbacService = ReturnType<typeof createRbacService>;
