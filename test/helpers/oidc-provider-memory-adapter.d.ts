// @types/oidc-provider covers the package entry only; the contract suite also imports the
// memory adapter, its oracle, by path.
declare module 'oidc-provider/lib/adapters/memory_adapter.js' {
  import type { AdapterPayload } from 'oidc-provider';

  export interface MemoryAdapter {
    upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void>;
    find(id: string): Promise<AdapterPayload | undefined>;
    findByUid(uid: string): Promise<AdapterPayload | undefined>;
    findByUserCode(userCode: string): Promise<AdapterPayload | undefined>;
    consume(id: string): Promise<void>;
    destroy(id: string): Promise<void>;
    revokeByGrantId(grantId: string): Promise<void>;
  }

  /** A factory over a fresh store of its own, as oidc-provider builds its default adapter. */
  export function createMemoryAdapter(clockTolerance?: number): (model: string) => MemoryAdapter;
}
