import { IsNull, MoreThan, type EntityManager } from 'typeorm';
import { SigningKeyEntity, type SigningKey } from './signing-key.entity.js';

/** Signing keys, newest activation first. */
export function createSigningKeyRepository(manager: EntityManager) {
  const repo = manager.getRepository(SigningKeyEntity);
  return {
    /** Keys still published at `now`: not expired. */
    listPublished: (now: Date) => repo.find({
      where: [{ expiresAt: IsNull() }, { expiresAt: MoreThan(now) }],
      order: { activatesAt: 'DESC', createdAt: 'DESC' },
    }),
    listAll: () => repo.find({ order: { activatesAt: 'DESC', createdAt: 'DESC' } }),
    insert: (key: Omit<SigningKey, 'createdAt'>) => repo.save(repo.create(key)),
    async update(kid: string, changes: Partial<Pick<SigningKey, 'retiredAt' | 'expiresAt'>>): Promise<void> {
      await repo.update({ kid }, changes);
    },
    /** Serialises key creation across instances so two first starts make one key. */
    async lock(): Promise<void> {
      await manager.query(`SELECT pg_advisory_xact_lock(hashtext('portcullis.signing_keys'))`);
    },
  };
}

export type SigningKeyRepository = ReturnType<typeof createSigningKeyRepository>;
