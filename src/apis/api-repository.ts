import type { EntityManager } from 'typeorm';
import { ApiEntity, type StoredApi } from './api.entity.js';

export type NewApi = Omit<StoredApi, 'id' | 'createdAt' | 'updatedAt'>;
export type ApiUpdate = Partial<Pick<StoredApi, 'name' | 'scopes' | 'accessTokenTtl' | 'rbac' | 'privileged'>>;

/** What still names an API: roles holding permissions on it, and live API keys bound to it. */
export interface ApiDependants {
  roles: string[];
  apiKeys: Array<{ id: string; name: string }>;
}

/** Registered APIs (table `apis`), looked up by their resource indicator. */
export function createApiRepository(manager: EntityManager) {
  const repo = manager.getRepository(ApiEntity);
  return {
    list: () => repo.find({ order: { identifier: 'ASC' } }),
    findByIdentifier: (identifier: string) => repo.findOneBy({ identifier }),
    /** Inserts the API; undefined when the identifier is taken (checked by the unique index, so races lose cleanly). */
    async insert(api: NewApi): Promise<StoredApi | undefined> {
      const rows: Array<{ id: string }> = await manager.query(
        `INSERT INTO apis (identifier, name, scopes, access_token_ttl, rbac, privileged, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (identifier) DO NOTHING RETURNING id`,
        [api.identifier, api.name, api.scopes, api.accessTokenTtl, api.rbac, api.privileged, api.createdBy]);
      return rows[0] ? (await repo.findOneByOrFail({ id: rows[0].id })) : undefined;
    },
    /** Reads the row and locks it until the transaction ends, so a concurrent change waits. */
    findForUpdate: (identifier: string) => repo.findOne({ where: { identifier }, lock: { mode: 'pessimistic_write' } }),
    async update(identifier: string, changes: ApiUpdate): Promise<void> {
      await repo.update({ identifier }, { ...changes, updatedAt: new Date() });
    },
    async delete(identifier: string): Promise<void> {
      await repo.delete({ identifier });
    },
    /** Roles with a permission on the API, and API keys bound to it that still work (not revoked, not expired). */
    async dependants(identifier: string): Promise<ApiDependants> {
      const roles: Array<{ name: string }> = await manager.query(
        `SELECT DISTINCT r.name FROM role_permissions rp JOIN roles r ON r.id = rp.role_id WHERE rp.api = $1 ORDER BY r.name`, [identifier]);
      const apiKeys: Array<{ id: string; name: string }> = await manager.query(
        `SELECT id, name FROM api_keys WHERE api = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())
          ORDER BY created_at, id`, [identifier]);
      return { roles: roles.map((row) => row.name), apiKeys };
    },
  };
}

export type ApiRepository = ReturnType<typeof createApiRepository>;
