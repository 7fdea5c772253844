// @types/oidc-provider covers the package entry only; the contract suite also imports the
// memory adapter, its oracle, by path.
declare module 'oidc-provider/lib/adapters/memory_adapter.js' {
  import type { Adapter } from 'oidc-provider';

  /** A factory over a fresh store of its own, as oidc-provider builds its default adapter. */
  export function createMemoryAdapter(clockTolerance?: number): (model: string) => Adapter;
}
