import type { ClientService } from '../clients/client-service.js';

/**
 * oidc-provider's Client model backed by the clients table, so the CLI, admin API and provider
 * share one source of truth. Writes go through the client service, never this adapter.
 */
export function createClientAdapter(clients: ClientService) {
  const readOnly = async () => { throw new Error('clients are managed through the client service'); };
  return {
    find: (id: string) => clients.oidcMetadata(id),
    upsert: readOnly,
    destroy: readOnly,
    consume: readOnly,
    revokeByGrantId: readOnly,
    findByUid: async () => undefined,
    findByUserCode: async () => undefined,
  };
}
