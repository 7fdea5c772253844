import type { EntityManager } from 'typeorm';
import { RoleEntity, type Role } from './role.entity.js';

/** Roles and their assignment to accounts. */
export function createRoleRepository(manager: EntityManager) {
  const repo = manager.getRepository(RoleEntity);
  return {
    findByName: (name: string) => repo.findOneBy({ name }),
    /** Returns the role, creating it on first use (the first admin role is made this way). */
    async ensure(name: string): Promise<Role> {
      await manager.query(`INSERT INTO roles (name) VALUES ($1) ON CONFLICT (name) DO NOTHING`, [name]);
      return (await repo.findOneByOrFail({ name }));
    },
    async assign(accountId: string, roleId: string): Promise<void> {
      await manager.query(`INSERT INTO account_roles (account_id, role_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, [accountId, roleId]);
    },
    async namesForAccount(accountId: string): Promise<string[]> {
      const rows: Array<{ name: string }> = await manager.query(
        `SELECT r.name FROM roles r JOIN account_roles ar ON ar.role_id = r.id WHERE ar.account_id = $1 ORDER BY r.name`, [accountId]);
      return rows.map((row) => row.name);
    },
  };
}

export type RoleRepository = ReturnType<typeof createRoleRepository>;
