import type { ChainableCommander } from 'ioredis';
import type { RedisClient } from '../../infra/redis.js';
import type { Adapter, AdapterPayload } from './adapter-factory.js';
import { consumeRejection, grantableModels } from './postgres-adapter.js';

/**
 * Models oidc-provider consumes. They are stored as hashes (`payload`, `consumed`) so consume()
 * sets one field atomically instead of rewriting the JSON.
 */
export const consumableModels: ReadonlySet<string> = new Set([
  'AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest',
  'PushedAuthorizationRequest', 'PreAuthorizedCode',
]);

// Key names follow oidc-provider's former example Redis adapter. The client's own keyPrefix
// (ioredis `keyPrefix`) is prepended to every key, including the KEYS of the Lua scripts; list
// members are stored unprefixed because ioredis prefixes them again when they are DEL'd.
const grantKeyFor = (grantId: string) => `grant:${grantId}`;
const uidKeyFor = (uid: string) => `uid:${uid}`;
const userCodeKeyFor = (userCode: string) => `userCode:${userCode}`;

// KEYS[1] the grant's list, ARGV[1] the member key, ARGV[2] the member's TTL in ms ('' = none).
// The list must outlive its longest-lived member or revokeByGrantId would miss tokens; doing this
// in a script inside the MULTI stops two concurrent upserts from shortening it.
const ADD_TO_GRANT = `
redis.call('LREM', KEYS[1], 0, ARGV[1])
local length = redis.call('RPUSH', KEYS[1], ARGV[1])
if ARGV[2] == '' then redis.call('PERSIST', KEYS[1]) return length end
local ttl = tonumber(ARGV[2])
local current = redis.call('PTTL', KEYS[1])
if length == 1 or (current >= 0 and current < ttl) then redis.call('PEXPIRE', KEYS[1], ttl) end
return length`;

// KEYS[1] the record hash, ARGV[1] epoch seconds. 1: consumed by this call; 0: already consumed; -1: gone.
const CONSUME = `
if redis.call('HEXISTS', KEYS[1], 'payload') == 0 then return -1 end
return redis.call('HSETNX', KEYS[1], 'consumed', ARGV[1])`;

// KEYS the pointer keys, ARGV[1] the id. Deletes a pointer only while it still points at this id,
// so destroying an old instance never unlinks a newer one that reuses the uid or user code.
const DELETE_POINTERS = `
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then redis.call('DEL', key) end
end
return 0`;

export interface RedisAdapterOptions {
  client: RedisClient;
  /** Clock in epoch milliseconds, used for `consumed`; Redis itself does the expiring. */
  now?: () => number;
}

async function execAll(multi: ChainableCommander): Promise<void> {
  const results = await multi.exec();
  if (!results) throw new Error('redis transaction was aborted');
  for (const [error] of results) if (error) throw error;
}

function pointerKeys(payload: AdapterPayload): string[] {
  const keys: string[] = [];
  if (typeof payload.uid === 'string') keys.push(uidKeyFor(payload.uid));
  if (typeof payload.userCode === 'string') keys.push(userCodeKeyFor(payload.userCode));
  return keys;
}

/** An oidc-provider adapter for one model in Redis, keeping the former example adapter's invariants. */
export function createRedisAdapter(model: string, { client, now = Date.now }: RedisAdapterOptions): Adapter {
  const consumable = consumableModels.has(model);
  const grantable = grantableModels.has(model);
  const keyFor = (id: string) => `${model}:${id}`;

  async function find(id: string): Promise<AdapterPayload | undefined> {
    if (consumable) {
      const hash = await client.hgetall(keyFor(id));
      if (!hash.payload) return undefined;
      const payload = JSON.parse(hash.payload) as AdapterPayload;
      return hash.consumed ? { ...payload, consumed: Number(hash.consumed) } : payload;
    }
    const json = await client.get(keyFor(id));
    return json === null ? undefined : (JSON.parse(json) as AdapterPayload);
  }

  // A pointer may outlive a replaced or destroyed record; only a record still carrying the value counts.
  async function findByPointer(pointer: string, matches: (payload: AdapterPayload) => boolean) {
    const id = await client.get(pointer);
    const payload = id === null ? undefined : await find(id);
    return payload && matches(payload) ? payload : undefined;
  }

  return {
    async upsert(id, payload, expiresIn) {
      const key = keyFor(id);
      // Redis refuses a TTL <= 0; oidc-provider can pass one (ReplayDetection saves `exp - now`).
      const ttlMs = typeof expiresIn === 'number' ? Math.max(1, Math.ceil(expiresIn * 1000)) : undefined;
      const json = JSON.stringify(payload);
      const multi = client.multi();
      if (consumable) {
        // DEL first: an upsert replaces the record, so a stale `consumed` field must not survive.
        multi.del(key);
        multi.hset(key, typeof payload.consumed === 'number' ? { payload: json, consumed: String(payload.consumed) } : { payload: json });
        if (ttlMs !== undefined) multi.pexpire(key, ttlMs);
      } else if (ttlMs !== undefined) {
        multi.set(key, json, 'PX', ttlMs);
      } else {
        multi.set(key, json);
      }
      if (grantable && typeof payload.grantId === 'string') {
        multi.eval(ADD_TO_GRANT, 1, grantKeyFor(payload.grantId), key, ttlMs === undefined ? '' : String(ttlMs));
      }
      for (const pointer of pointerKeys(payload)) {
        if (ttlMs !== undefined) multi.set(pointer, id, 'PX', ttlMs);
        else multi.set(pointer, id);
      }
      await execAll(multi);
    },

    find,
    findByUid: (uid) => findByPointer(uidKeyFor(uid), (payload) => payload.uid === uid),
    findByUserCode: (userCode) => findByPointer(userCodeKeyFor(userCode), (payload) => payload.userCode === userCode),

    async consume(id) {
      if (!consumable) throw new TypeError(`${model} is not a consumable model`);
      const result = await client.eval(CONSUME, 1, keyFor(id), String(Math.floor(now() / 1000)));
      if (result === 1) return;
      throw consumeRejection(model, result === 0 ? 'already_consumed' : 'not_found');
    },

    async destroy(id) {
      const key = keyFor(id);
      const payload = await find(id);
      const multi = client.multi().del(key);
      if (payload) {
        const pointers = pointerKeys(payload);
        if (pointers.length) multi.eval(DELETE_POINTERS, pointers.length, ...pointers, id);
        if (grantable && typeof payload.grantId === 'string') multi.lrem(grantKeyFor(payload.grantId), 0, key);
      }
      await execAll(multi);
    },

    async revokeByGrantId(grantId) {
      const grantKey = grantKeyFor(grantId);
      const members = await client.lrange(grantKey, 0, -1);
      if (!members.length) return;
      // LREM exactly what was read (not DEL the list): a member pushed meanwhile stays indexed.
      const multi = client.multi();
      for (const member of members) multi.del(member).lrem(grantKey, 0, member);
      await execAll(multi);
    },
  };
}
