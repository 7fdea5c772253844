import type { EntityManager } from 'typeorm';
import { ClientEntity, type Client } from './client.entity.js';

export type NewClient = Omit<Client, 'createdAt' | 'updatedAt'>;

/** Registered clients, keyed by client_id. */
export function createClientRepository(manager: EntityManager) {
  const repo = manager.getRepository(ClientEntity);
  return {
    findById: (clientId: string) => repo.findOneBy({ clientId }),
    /** The row locked FOR UPDATE until the transaction ends, so a check and the change it guards are one step. */
    findByIdForUpdate: (clientId: string) => repo.createQueryBuilder('c').setLock('pessimistic_write').where('c.clientId = :clientId', { clientId }).getOne(),
    list: () => repo.find({ order: { createdAt: 'ASC' } }),
    insert: (client: NewClient) => repo.save(repo.create(client)),
    async update(clientId: string, changes: Partial<Omit<Client, 'clientId' | 'createdAt'>>): Promise<void> {
      await repo.update({ clientId }, { ...changes, updatedAt: new Date() });
    },
    async delete(clientId: string): Promise<boolean> {
      const result = await repo.delete({ clientId });
      return (result.affected ?? 0) > 0;
    },
  };
}

export type ClientRepository = ReturnType<typeof createClientRepository>;
