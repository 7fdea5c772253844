import type { EntityManager } from 'typeorm';
import { ApiKeyEntity, type ApiKey } from './api-key.entity.js';

export type NewApiKey = Omit<ApiKey, 'createdAt' | 'lastUsedAt' | 'lastUsedIp' | 'revokedAt'>;

/** API keys, looked up by their public id. */
export function createApiKeyRepository(manager: EntityManager) {
  const repo = manager.getRepository(ApiKeyEntity);
  return {
    findById: (id: string) => repo.findOneBy({ id }),
    list: (filter: { clientId?: string; accountId?: string } = {}) =>
      repo.find({ where: { ...(filter.clientId ? { clientId: filter.clientId } : {}), ...(filter.accountId ? { accountId: filter.accountId } : {}) }, order: { createdAt: 'ASC', id: 'ASC' } }),
    insert: (key: NewApiKey) => repo.save(repo.create({ ...key, lastUsedAt: null, lastUsedIp: null, revokedAt: null })),
    async update(id: string, changes: Partial<Pick<ApiKey, 'secretDigest' | 'revokedAt'>>): Promise<void> {
      await repo.update({ id }, changes);
    },
    /** Records a use, at most once a minute per key, so busy keys don't write on every call. */
    async touch(id: string, ip: string | null, now: Date): Promise<void> {
      await manager.query(
        `UPDATE api_keys SET last_used_at = $2, last_used_ip = $3
          WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $2::timestamptz - interval '1 minute')`, [id, now, ip]);
    },
  };
}

export type ApiKeyRepository = ReturnType<typeof createApiKeyRepository>;
