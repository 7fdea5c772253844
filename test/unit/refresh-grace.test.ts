import { errors } from 'oidc-provider';
import { describe, expect, it } from 'vitest';
import type { Adapter, AdapterPayload } from '../../src/oidc/adapters/adapter-factory.js';
import { withRefreshGrace } from '../../src/oidc/adapters/refresh-grace.js';

/** An in-memory RefreshToken store with the real adapters' consume contract: the second consume rejects. */
function store(): Adapter & { rows: Map<string, AdapterPayload> } {
  const rows = new Map<string, AdapterPayload>();
  return {
    rows,
    upsert: async (id, payload) => { rows.set(id, { ...payload }); },
    find: async (id) => (rows.has(id) ? { ...rows.get(id)! } : undefined),
    findByUid: async () => undefined,
    findByUserCode: async () => undefined,
    consume: async (id) => {
      const row = rows.get(id);
      if (!row || row.consumed) throw new errors.InvalidGrant('RefreshToken already consumed');
      row.consumed = Math.floor(Date.now() / 1000);
    },
    destroy: async (id) => { rows.delete(id); },
    revokeByGrantId: async () => {},
  };
}

describe('refresh token grace window', () => {
  it('lets a rotated token work again inside the client\'s window, and refuses it after', async () => {
    const inner = store();
    let clock = Date.now();
    const adapter = withRefreshGrace(inner, async (clientId) => (clientId === 'graceful' ? 10 : 0), () => clock);
    await inner.upsert('rt', { clientId: 'graceful', jti: 'rt' });
    await adapter.consume('rt');
    expect((await adapter.find('rt'))?.consumed).toBeUndefined();
    await expect(adapter.consume('rt')).resolves.toBeUndefined();
    clock += 11_000;
    expect((await adapter.find('rt'))?.consumed).toBeTypeOf('number');
    await expect(adapter.consume('rt')).rejects.toBeInstanceOf(errors.InvalidGrant);
  });

  it('changes nothing for a client without a window (the default)', async () => {
    const inner = store();
    const adapter = withRefreshGrace(inner, async () => 0);
    await inner.upsert('rt', { clientId: 'strict', jti: 'rt' });
    await adapter.consume('rt');
    expect((await adapter.find('rt'))?.consumed).toBeTypeOf('number');
    await expect(adapter.consume('rt')).rejects.toBeInstanceOf(errors.InvalidGrant);
  });
});
