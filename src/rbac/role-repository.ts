import type { EntityManager } from 'typeorm';
import { emailCursor } from '../identifiers/canonical-email.js';
import { RoleEntity, type Role } from './role.entity.js';

/** A role with what it allows, as listed by the CLI. */
export interface RoleSummary extends Role { permissions: Array<{ api: string; permission: string }> }

/** An account holding a role, as a list of holders names it. */
export interface RoleAccountHolder { id: string; email: string; name: string | null; disabledAt: Date | null }
/** A client holding a role. */
export interface RoleClientHolder { clientId: string; name: string; type: string }

interface RoleRow { id: string; name: string; description: string | null; created_at: Date }
const toRole = (row: RoleRow): Role => ({ id: row.id, name: row.name, description: row.description, createdAt: row.created_at });

/** Roles, their permissions on APIs, and their assignment to accounts and clients. */
export function createRoleRepository(manager: EntityManager) {
  const repo = manager.getRepository(RoleEntity);
  const names = async (sql: string, params: unknown[]) => ((await manager.query(sql, params)) as Array<{ name: string }>).map((row) => row.name);
  /** Rows a DML statement touched: TypeORM's postgres driver answers [rows, count]. */
  const affected = (result: unknown) => (Array.isArray(result) && typeof result[1] === 'number' ? result[1] : 0);
  return {
    findByName: (name: string) => repo.findOneBy({ name }),
    /** The role locked FOR UPDATE until the transaction ends (If-Match checks and the change are one step). */
    findByNameForUpdate: (name: string) => repo.createQueryBuilder('r').setLock('pessimistic_write').where('r.name = :name', { name }).getOne(),
    async updateDescription(roleId: string, description: string | null): Promise<void> {
      await repo.update({ id: roleId }, { description });
    },
    /** One role's permissions, sorted by API then permission. */
    async permissionsOf(roleId: string): Promise<Array<{ api: string; permission: string }>> {
      return manager.query(`SELECT api, permission FROM role_permissions WHERE role_id = $1 ORDER BY api, permission`, [roleId]);
    },
    /** How many accounts and clients hold each role (roles nobody holds are absent). */
    async holderCounts(roleIds?: readonly string[]): Promise<Map<string, { accounts: number; clients: number }>> {
      const rows: Array<{ role_id: string; accounts: number; clients: number }> = await manager.query(
        `SELECT r.id AS role_id,
                (SELECT count(*)::int FROM account_roles ar WHERE ar.role_id = r.id) AS accounts,
                (SELECT count(*)::int FROM client_roles cr WHERE cr.role_id = r.id) AS clients
           FROM roles r WHERE $1::uuid[] IS NULL OR r.id = ANY($1::uuid[])`, [roleIds ?? null]);
      return new Map(rows.map((row) => [row.role_id, { accounts: row.accounts, clients: row.clients }]));
    },
    /**
     * Up to `limit` accounts holding the role, by canonical email after `afterEmail` (any spelling;
     * keyset paging on accounts_email_canonical_key, so a page costs the same however deep it is).
     */
    async accountHolders(roleId: string, limit: number, afterEmail?: string): Promise<RoleAccountHolder[]> {
      const rows: Array<{ id: string; email: string; name: string | null; disabled_at: Date | null }> = await manager.query(
        `SELECT a.id, a.email, a.name, a.disabled_at FROM accounts a JOIN account_roles ar ON ar.account_id = a.id
          WHERE ar.role_id = $1 AND ($2::text IS NULL OR a.email_canonical > $2)
          ORDER BY a.email_canonical LIMIT $3`, [roleId, emailCursor(afterEmail), limit]);
      return rows.map((row) => ({ id: row.id, email: row.email, name: row.name, disabledAt: row.disabled_at }));
    },
    /** Every client holding the role, by name: clients are registered by hand, so they are few. */
    async clientHolders(roleId: string): Promise<RoleClientHolder[]> {
      const rows: Array<{ client_id: string; name: string; type: string }> = await manager.query(
        `SELECT c.client_id, c.name, c.type FROM clients c JOIN client_roles cr ON cr.client_id = c.client_id
          WHERE cr.role_id = $1 ORDER BY c.name, c.client_id`, [roleId]);
      return rows.map((row) => ({ clientId: row.client_id, name: row.name, type: row.type }));
    },
    /** Returns the role, creating it on first use (the first admin role is made this way). */
    async ensure(name: string): Promise<Role> {
      await manager.query(`INSERT INTO roles (name) VALUES ($1) ON CONFLICT (name) DO NOTHING`, [name]);
      return (await repo.findOneByOrFail({ name }));
    },
    /** Inserts a role; undefined when the name is taken. */
    async create(name: string, description: string | null): Promise<Role | undefined> {
      const rows: RoleRow[] = await manager.query(
        `INSERT INTO roles (name, description) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING RETURNING id, name, description, created_at`, [name, description]);
      return rows[0] ? toRole(rows[0]) : undefined;
    },
    async list(): Promise<RoleSummary[]> {
      const roles = await repo.find({ order: { name: 'ASC' } });
      const rows: Array<{ role_id: string; api: string; permission: string }> = await manager.query(
        `SELECT role_id, api, permission FROM role_permissions ORDER BY api, permission`);
      return roles.map((role) => ({ ...role, permissions: rows.filter((row) => row.role_id === role.id).map(({ api, permission }) => ({ api, permission })) }));
    },
    /** Deletes the role; its permissions and assignments go with it (ON DELETE CASCADE). */
    async delete(roleId: string): Promise<void> {
      await manager.query(`DELETE FROM roles WHERE id = $1`, [roleId]);
    },
    /** True when the permission was not held before. */
    async grant(roleId: string, api: string, permission: string): Promise<boolean> {
      const rows: unknown[] = await manager.query(
        `INSERT INTO role_permissions (role_id, api, permission) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING role_id`, [roleId, api, permission]);
      return rows.length > 0;
    },
    /** True when the permission was held. */
    async revoke(roleId: string, api: string, permission: string): Promise<boolean> {
      return affected(await manager.query(`DELETE FROM role_permissions WHERE role_id = $1 AND api = $2 AND permission = $3`, [roleId, api, permission])) > 0;
    },
    /** Whether any account holds the role (first-run setup checks for an admin). */
    async hasMembers(name: string): Promise<boolean> {
      const rows: unknown[] = await manager.query(
        `SELECT 1 FROM account_roles ar JOIN roles r ON r.id = ar.role_id WHERE r.name = $1 LIMIT 1`, [name]);
      return rows.length > 0;
    },
    /** Serialises first-run setup across instances for the rest of the transaction. */
    async lockSetup(): Promise<void> {
      await manager.query(`SELECT pg_advisory_xact_lock(hashtext('portcullis.setup'))`);
    },
    async assign(accountId: string, roleId: string): Promise<void> {
      await manager.query(`INSERT INTO account_roles (account_id, role_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, [accountId, roleId]);
    },
    async unassign(accountId: string, roleId: string): Promise<boolean> {
      return affected(await manager.query(`DELETE FROM account_roles WHERE account_id = $1 AND role_id = $2`, [accountId, roleId])) > 0;
    },
    async assignToClient(clientId: string, roleId: string): Promise<void> {
      await manager.query(`INSERT INTO client_roles (client_id, role_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, [clientId, roleId]);
    },
    async unassignFromClient(clientId: string, roleId: string): Promise<boolean> {
      return affected(await manager.query(`DELETE FROM client_roles WHERE client_id = $1 AND role_id = $2`, [clientId, roleId])) > 0;
    },
    namesForAccount: (accountId: string) =>
      names(`SELECT r.name FROM roles r JOIN account_roles ar ON ar.role_id = r.id WHERE ar.account_id = $1 ORDER BY r.name`, [accountId]),
    namesForClient: (clientId: string) =>
      names(`SELECT r.name FROM roles r JOIN client_roles cr ON cr.role_id = r.id WHERE cr.client_id = $1 ORDER BY r.name`, [clientId]),
    /** The permissions any of `roleNames` holds on `api`, sorted and distinct. */
    async permissionsFor(roleNames: readonly string[], api: string): Promise<string[]> {
      if (!roleNames.length) return [];
      const rows: Array<{ permission: string }> = await manager.query(
        `SELECT DISTINCT rp.permission FROM role_permissions rp JOIN roles r ON r.id = rp.role_id
          WHERE r.name = ANY($1::text[]) AND rp.api = $2 ORDER BY rp.permission`, [roleNames, api]);
      return rows.map((row) => row.permission);
    },
  };
}

export type RoleRepository = ReturnType<typeof createRoleRepository>;
