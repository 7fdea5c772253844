import { describe, expect, it } from 'vitest';
import { rolesForRequest } from '../../src/oidc/request-memo.js';
import type { RoleLookup } from '../../src/oidc/resource-servers.js';

function countingLookup(roles: string[] = ['editor']) {
  const calls: string[] = [];
  const lookup: RoleLookup = {
    rolesForAccount: async (id) => { calls.push(`account:${id}`); return [...roles]; },
    rolesForClient: async (id) => { calls.push(`client:${id}`); return [...roles]; },
    permissionsFor: async (names, api) => { calls.push(`permissions:${api}:${names.join(',')}`); return ['read']; },
  };
  return { calls, lookup };
}

describe('rolesForRequest', () => {
  it('reads each answer once per request context', async () => {
    const { calls, lookup } = countingLookup();
    const ctx = {};
    expect(await rolesForRequest(ctx, lookup).rolesForClient('c1')).toEqual(['editor']);
    expect(await rolesForRequest(ctx, lookup).rolesForClient('c1')).toEqual(['editor']);
    await rolesForRequest(ctx, lookup).permissionsFor(['editor'], 'https://api');
    await rolesForRequest(ctx, lookup).permissionsFor(['editor'], 'https://api');
    expect(calls).toEqual(['client:c1', 'permissions:https://api:editor']);
  });

  it('reads again for the next request, so role changes apply at once', async () => {
    const { calls, lookup } = countingLookup();
    await rolesForRequest({}, lookup).rolesForAccount('a1');
    await rolesForRequest({}, lookup).rolesForAccount('a1');
    expect(calls).toEqual(['account:a1', 'account:a1']);
  });

  it('hands each caller its own array', async () => {
    const { lookup } = countingLookup();
    const ctx = {};
    const first = await rolesForRequest(ctx, lookup).rolesForAccount('a1');
    first.push('tampered');
    expect(await rolesForRequest(ctx, lookup).rolesForAccount('a1')).toEqual(['editor']);
  });

  it('keeps permissions of different lookups apart', async () => {
    const ctx = {};
    const plain = countingLookup();
    const other = countingLookup();
    await rolesForRequest(ctx, plain.lookup).permissionsFor(['editor'], 'https://api');
    await rolesForRequest(ctx, other.lookup).permissionsFor(['editor'], 'https://api');
    expect(other.calls).toEqual(['permissions:https://api:editor']);
  });

  it('does not remember a failed read', async () => {
    let attempts = 0;
    const lookup: RoleLookup = {
      rolesForAccount: async () => { attempts += 1; if (attempts === 1) throw new Error('boom'); return ['editor']; },
      rolesForClient: async () => [],
      permissionsFor: async () => [],
    };
    const ctx = {};
    await expect(rolesForRequest(ctx, lookup).rolesForAccount('a1')).rejects.toThrow('boom');
    expect(await rolesForRequest(ctx, lookup).rolesForAccount('a1')).toEqual(['editor']);
  });
});
