import { randomUUID } from 'node:crypto';
import Provider, { errors } from 'oidc-provider';
import { createMemoryAdapter } from 'oidc-provider/lib/adapters/memory_adapter.js';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { openDataSource, type DataSource } from '../../src/infra/data-source.js';
import { createRedis, type RedisClient } from '../../src/infra/redis.js';
import {
  createAdapterFactory, postgresModels, redisModels, type Adapter, type AdapterPayload,
} from '../../src/oidc/adapters/adapter-factory.js';
import { deleteExpired, startExpiredModelCleaner } from '../../src/oidc/adapters/expired-model-cleaner.js';
import { createOidcModelRepository } from '../../src/oidc/adapters/oidc-model-repository.js';
import { createPostgresAdapter } from '../../src/oidc/adapters/postgres-adapter.js';
import { createRedisAdapter } from '../../src/oidc/adapters/redis-adapter.js';
import { createTestDatabase, testRedis } from '../helpers/test-database.js';

/** One store, opened once per contract run. */
interface Store {
  adapter(name: string): Adapter;
  /** The store's clock in epoch ms, the one `consumed` is taken from. */
  now(): number;
  /** Moves the store's clock on (stores whose expiry the test can drive). */
  advance?(seconds: number): void;
  /** PTTL of an unprefixed key (Redis, which expires keys itself). */
  pttl?(key: string): Promise<number>;
}

interface StoreUnderTest {
  name: string;
  expiry: 'clock' | 'ttl';
  /** consume() refuses every caller but the first: our stores, not the memory oracle. */
  atomicConsume: boolean;
  open(): Store;
}

const redisConfig = testRedis();
let dataSource: DataSource;
let redis: RedisClient | undefined; // with the test file's keyPrefix, as the app configures it
let rawRedis: RedisClient | undefined; // without a prefix, to see the real key names

async function scanKeys(pattern: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await rawRedis!.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    keys.push(...batch);
    cursor = next;
  } while (cursor !== '0');
  return keys;
}

beforeAll(async () => {
  dataSource = await openDataSource({ url: (await createTestDatabase()).url, poolSize: 12, entities: [], migrations: [] });
  if (redisConfig) {
    redis = createRedis(redisConfig.url, { keyPrefix: redisConfig.keyPrefix });
    rawRedis = createRedis(redisConfig.url);
  }
});

afterAll(async () => {
  if (rawRedis && redisConfig) {
    const keys = await scanKeys(`${redisConfig.keyPrefix}*`);
    if (keys.length) await rawRedis.unlink(...keys);
  }
  await redis?.quit();
  await rawRedis?.quit();
  await dataSource?.destroy();
});

afterEach(() => { vi.useRealTimers(); });

const settle = async (promises: Promise<unknown>[]) => {
  const results = await Promise.allSettled(promises);
  return {
    fulfilled: results.filter((r) => r.status === 'fulfilled').length,
    reasons: results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : [])),
  };
};

/** The one adapter contract every store must meet; oidc-provider's memory adapter is its oracle. */
function adapterContract(subject: StoreUnderTest) {
  describe(`adapter contract: ${subject.name}`, () => {
    let store: Store;
    beforeAll(() => { store = subject.open(); });

    const seconds = () => Math.floor(store.now() / 1000);
    async function save(name: string, extra: Partial<AdapterPayload> = {}, expiresIn: number | 'never' = 60) {
      const payload: AdapterPayload = { kind: name, jti: randomUUID(), iat: seconds(), exp: seconds() + 60, clientId: 'rp', ...extra };
      await store.adapter(name).upsert(payload.jti!, payload, expiresIn === 'never' ? undefined : expiresIn);
      return payload as AdapterPayload & { jti: string };
    }

    it('round-trips every kind of model through upsert and find', async () => {
      const saved = [
        await save('Grant', { accountId: 'a1', openid: { scope: 'openid' } }),
        await save('Session', { uid: randomUUID(), accountId: 'a1', authorizations: { rp: { sid: 's1' } } }),
        await save('AccessToken', { grantId: randomUUID(), scope: 'openid' }),
        await save('AuthorizationCode', { grantId: randomUUID(), redirectUri: 'https://rp.test/cb' }),
        await save('Interaction', { grantId: randomUUID(), params: { client_id: 'rp' } }),
        await save('DeviceCode', { userCode: randomUUID(), grantId: randomUUID() }),
      ];
      for (const payload of saved) expect(await store.adapter(payload.kind!).find(payload.jti)).toEqual(payload);
    });

    it('finds nothing for an unknown id, uid or user code', async () => {
      expect(await store.adapter('AccessToken').find(randomUUID())).toBeUndefined();
      expect(await store.adapter('Session').findByUid(randomUUID())).toBeUndefined();
      expect(await store.adapter('DeviceCode').findByUserCode(randomUUID())).toBeUndefined();
    });

    it('finds a Session by uid and a DeviceCode by user code', async () => {
      const session = await save('Session', { uid: randomUUID() });
      const deviceCode = await save('DeviceCode', { userCode: 'WDJB-MJHT', grantId: randomUUID() });
      expect(await store.adapter('Session').findByUid(session.uid!)).toEqual(session);
      expect(await store.adapter('DeviceCode').findByUserCode('WDJB-MJHT')).toEqual(deviceCode);
    });

    it('replaces an instance on upsert, uid lookup included', async () => {
      const first = await save('Session', { uid: randomUUID() });
      const second = { ...first, uid: randomUUID() };
      await store.adapter('Session').upsert(first.jti, second, 60);
      expect(await store.adapter('Session').find(first.jti)).toEqual(second);
      expect(await store.adapter('Session').findByUid(first.uid!)).toBeUndefined();
      expect(await store.adapter('Session').findByUid(second.uid)).toEqual(second);
    });

    it('keeps a newer session reachable by uid when an older one with that uid is destroyed', async () => {
      const uid = randomUUID();
      const older = await save('Session', { uid });
      const newer = await save('Session', { uid });
      await store.adapter('Session').destroy(older.jti);
      expect((await store.adapter('Session').findByUid(uid))?.jti).toBe(newer.jti);
    });

    it.skipIf(subject.expiry !== 'clock')(`stops finding an instance, by any lookup, once it expires${subject.expiry !== 'clock' ? ' (skipped: this store expires by its own TTL, tested below)' : ''}`, async () => {
      const session = await save('Session', { uid: randomUUID() });
      const deviceCode = await save('DeviceCode', { userCode: randomUUID(), grantId: randomUUID() });
      const client = await save('Client', { client_id: randomUUID() }, 'never');
      store.advance!(59);
      expect(await store.adapter('Session').find(session.jti)).toEqual(session);
      store.advance!(2);
      expect(await store.adapter('Session').find(session.jti)).toBeUndefined();
      expect(await store.adapter('Session').findByUid(session.uid!)).toBeUndefined();
      expect(await store.adapter('DeviceCode').findByUserCode(deviceCode.userCode!)).toBeUndefined();
      expect(await store.adapter('Client').find(client.jti)).toEqual(client);
    });

    it.skipIf(subject.expiry !== 'ttl')(`gives a record, its pointers and its grant list the record's TTL${subject.expiry !== 'ttl' ? ' (skipped: this store expires by an injected clock, tested above)' : ''}`, async () => {
      const within = (ms: number, limit: number) => expect(ms).toSatisfy((v: number) => v > limit - 5_000 && v <= limit);
      const grantId = randomUUID();
      const session = await save('Session', { uid: randomUUID() });
      const deviceCode = await save('DeviceCode', { userCode: randomUUID(), grantId });
      const client = await save('Client', {}, 'never');
      within(await store.pttl!(`Session:${session.jti}`), 60_000);
      within(await store.pttl!(`uid:${session.uid}`), 60_000);
      within(await store.pttl!(`DeviceCode:${deviceCode.jti}`), 60_000);
      within(await store.pttl!(`userCode:${deviceCode.userCode}`), 60_000);
      within(await store.pttl!(`grant:${grantId}`), 60_000);
      await save('AccessToken', { grantId }, 3600);
      await save('AuthorizationCode', { grantId }, 10);
      // The grant list lives as long as its longest-lived member, and a shorter one never shortens it.
      within(await store.pttl!(`grant:${grantId}`), 3_600_000);
      expect(await store.pttl!(`Client:${client.jti}`)).toBe(-1);
    });

    it('marks a consumed instance with the epoch second it was consumed', async () => {
      const code = await save('AuthorizationCode', { grantId: randomUUID() });
      const before = seconds();
      await store.adapter('AuthorizationCode').consume(code.jti);
      const found = await store.adapter('AuthorizationCode').find(code.jti);
      expect(found).toEqual({ ...code, consumed: expect.any(Number) });
      expect(found!.consumed).toBeGreaterThanOrEqual(before);
      expect(found!.consumed).toBeLessThanOrEqual(seconds());
    });

    it('destroys an instance and its uid lookup; destroying an unknown id is fine', async () => {
      const session = await save('Session', { uid: randomUUID() });
      const code = await save('AuthorizationCode', { grantId: randomUUID() });
      await store.adapter('Session').destroy(session.jti);
      await store.adapter('AuthorizationCode').destroy(code.jti);
      expect(await store.adapter('Session').find(session.jti)).toBeUndefined();
      expect(await store.adapter('Session').findByUid(session.uid!)).toBeUndefined();
      expect(await store.adapter('AuthorizationCode').find(code.jti)).toBeUndefined();
      await expect(store.adapter('AccessToken').destroy(randomUUID())).resolves.toBeUndefined();
    });

    it('revokes every instance of a grant, whatever its model, and nothing of another grant', async () => {
      const [revoked, kept] = [randomUUID(), randomUUID()];
      const members = [
        await save('AccessToken', { grantId: revoked }),
        await save('AuthorizationCode', { grantId: revoked }),
        await save('RefreshToken', { grantId: revoked }, 3600),
        await save('DeviceCode', { grantId: revoked, userCode: randomUUID() }),
      ];
      const others = [await save('AccessToken', { grantId: kept }), await save('RefreshToken', { grantId: kept })];
      // Like the oracle, only token-like models are indexed by grant: oidc-provider destroys the
      // Grant itself separately (revokeGrantPolicy), and an Interaction is not a credential.
      const untouched = [await save('Grant', { jti: revoked }), await save('Interaction', { grantId: revoked })];

      await store.adapter('AccessToken').revokeByGrantId(revoked);

      for (const member of members) expect(await store.adapter(member.kind!).find(member.jti)).toBeUndefined();
      expect(await store.adapter('DeviceCode').findByUserCode(members[3]!.userCode!)).toBeUndefined();
      for (const other of [...others, ...untouched]) expect(await store.adapter(other.kind!).find(other.jti)).toEqual(other);
      await expect(store.adapter('RefreshToken').revokeByGrantId(randomUUID())).resolves.toBeUndefined();
    });

    describe.skipIf(!subject.atomicConsume)(subject.atomicConsume ? 'atomic consume' : 'atomic consume (skipped: the memory oracle does not promise it)', () => {
      it('refuses a second or unknown consume with InvalidGrant (400 invalid_grant)', async () => {
        const code = await save('AuthorizationCode', { grantId: randomUUID() });
        await store.adapter('AuthorizationCode').consume(code.jti);
        const second = store.adapter('AuthorizationCode').consume(code.jti);
        await expect(second).rejects.toBeInstanceOf(errors.InvalidGrant);
        await expect(second).rejects.toMatchObject({ status: 400, error: 'invalid_grant', error_detail: 'AuthorizationCode already consumed' });
        await expect(store.adapter('AuthorizationCode').consume(randomUUID()))
          .rejects.toMatchObject({ error: 'invalid_grant', error_detail: 'AuthorizationCode not found' });
      });

      it.each(['AuthorizationCode', 'RefreshToken'])('lets exactly one of 10 parallel consume() calls of one %s win', async (model) => {
        const token = await save(model, { grantId: randomUUID() });
        const { fulfilled, reasons } = await settle(Array.from({ length: 10 }, () => store.adapter(model).consume(token.jti)));
        expect(fulfilled).toBe(1);
        expect(reasons).toHaveLength(9);
        for (const reason of reasons) {
          expect(reason).toBeInstanceOf(errors.InvalidGrant);
          expect(reason).toMatchObject({ error_detail: `${model} already consumed` });
        }
        expect((await store.adapter(model).find(token.jti))?.consumed).toEqual(expect.any(Number));
      });

      it('refuses a raced PAR request_uri as the authorization endpoint does', async () => {
        const par = await save('PushedAuthorizationRequest', {});
        const { fulfilled, reasons } = await settle([1, 2].map(() => store.adapter('PushedAuthorizationRequest').consume(par.jti)));
        expect(fulfilled).toBe(1);
        expect(reasons[0]).toMatchObject({ status: 400, error: 'invalid_request_uri' });
      });
    });
  });
}

adapterContract({
  name: 'memory (oracle)',
  expiry: 'clock',
  atomicConsume: false,
  open() {
    const factory = createMemoryAdapter();
    return {
      adapter: factory,
      now: () => Date.now(),
      // The memory adapter's LRU reads Date.now, so faking only Date drives its expiry.
      advance(seconds) {
        if (!vi.isFakeTimers()) vi.useFakeTimers({ toFake: ['Date'] });
        vi.setSystemTime(Date.now() + seconds * 1000);
      },
    };
  },
});

adapterContract({
  name: 'postgres',
  expiry: 'clock',
  atomicConsume: true,
  open() {
    let offset = 0;
    const now = () => Date.now() + offset;
    const repository = createOidcModelRepository(dataSource);
    return {
      adapter: (name) => createPostgresAdapter(name, { repository, now }),
      now,
      advance(seconds) { offset += seconds * 1000; },
    };
  },
});

describe.skipIf(!redisConfig)(redisConfig ? 'redis' : 'redis (skipped: REDIS_URL not set)', () => {
  adapterContract({
    name: 'redis',
    expiry: 'ttl',
    atomicConsume: true,
    open: () => ({
      adapter: (name) => createRedisAdapter(name, { client: redis! }),
      now: () => Date.now(),
      pttl: (key) => rawRedis!.pttl(`${redisConfig!.keyPrefix}${key}`),
    }),
  });

  it('keeps consumable models as hashes, others as JSON strings, a list per grant, all under the key prefix', async () => {
    const marker = randomUUID();
    const grantId = `${marker}-grant`;
    const adapter = (name: string) => createRedisAdapter(name, { client: redis! });
    await adapter('AuthorizationCode').upsert(`${marker}-code`, { grantId }, 60);
    await adapter('AccessToken').upsert(`${marker}-at`, { grantId }, 60);
    await adapter('Session').upsert(`${marker}-session`, { uid: `${marker}-uid` }, 60);
    await adapter('DeviceCode').upsert(`${marker}-dc`, { userCode: `${marker}-uc` }, 60);
    await adapter('AuthorizationCode').consume(`${marker}-code`);

    const prefixed = (key: string) => `${redisConfig!.keyPrefix}${key}`;
    const expected = {
      [`AuthorizationCode:${marker}-code`]: 'hash', [`DeviceCode:${marker}-dc`]: 'hash',
      [`AccessToken:${marker}-at`]: 'string', [`Session:${marker}-session`]: 'string',
      [`uid:${marker}-uid`]: 'string', [`userCode:${marker}-uc`]: 'string', [`grant:${grantId}`]: 'list',
    };
    expect((await scanKeys(`*${marker}*`)).sort()).toEqual(Object.keys(expected).map(prefixed).sort());
    for (const [key, type] of Object.entries(expected)) expect(await rawRedis!.type(prefixed(key))).toBe(type);
    expect(await rawRedis!.lrange(prefixed(`grant:${grantId}`), 0, -1))
      .toEqual([`AuthorizationCode:${marker}-code`, `AccessToken:${marker}-at`]);
    expect(await rawRedis!.hkeys(prefixed(`AuthorizationCode:${marker}-code`))).toEqual(['payload', 'consumed']);
  });
});

describe('expired-row cleanup (postgres)', () => {
  it('deletes expired rows in bounded batches and keeps live ones', async () => {
    const repository = createOidcModelRepository(dataSource);
    const start = Date.now();
    const adapter = createPostgresAdapter('ReplayDetection', { repository, now: () => start });
    const expired = Array.from({ length: 7 }, () => randomUUID());
    const live = [randomUUID(), randomUUID()];
    const forever = randomUUID();
    for (const id of expired) await adapter.upsert(id, { iss: 'rp' }, 10);
    for (const id of live) await adapter.upsert(id, { iss: 'rp' }, 3600);
    await adapter.upsert(forever, { iss: 'rp' });
    const later = () => start + 60_000;

    expect(await deleteExpired({ repository, batchSize: 2, maxBatches: 1, now: later })).toBe(2);
    expect(await deleteExpired({ repository, batchSize: 2, now: later })).toBeGreaterThanOrEqual(5);

    const rows: { id: string }[] = await dataSource.query(
      `SELECT id FROM oidc_model_instances WHERE model = 'ReplayDetection' AND id = ANY($1)`, [[...expired, ...live, forever]]);
    expect(rows.map((row) => row.id).sort()).toEqual([...live, forever].sort());
  });

  it('runs on its interval, never lets a failure stop it, and stops when told', async () => {
    vi.useFakeTimers();
    const results: (number | Error)[] = [3, 0, new Error('connection terminated'), 0];
    const batches: number[] = [];
    const repository = {
      async deleteExpired(batchSize: number) {
        batches.push(batchSize);
        const next = results.shift() ?? 0;
        if (next instanceof Error) throw next;
        return next;
      },
    };
    const logged: string[] = [];
    const logger = { info: (_: object, message: string) => logged.push(message), error: (_: object, message: string) => logged.push(message) };
    const cleaner = startExpiredModelCleaner({ repository, intervalSeconds: 30, logger, batchSize: 3 });

    await vi.advanceTimersByTimeAsync(29_000);
    expect(batches).toEqual([]);
    await vi.advanceTimersByTimeAsync(1_000); // first run: a full batch, then an empty one
    expect(batches).toEqual([3, 3]);
    await vi.advanceTimersByTimeAsync(30_000); // second run fails
    await vi.advanceTimersByTimeAsync(30_000); // third run still happens
    expect(logged).toEqual(['deleted expired oidc model instances', 'expired oidc model cleanup failed']);
    expect(batches).toHaveLength(4);
    cleaner.stop();
    await vi.advanceTimersByTimeAsync(120_000);
    expect(batches).toHaveLength(4);
  });
});

describe('adapter factory', () => {
  const saveVia = (adapter: Adapter, id: string) => adapter.upsert(id, { kind: 'x' }, 60);
  const inPostgres = async (model: string, id: string) =>
    (await dataSource.query(`SELECT 1 FROM oidc_model_instances WHERE model = $1 AND id = $2`, [model, id])).length === 1;

  it('without Redis, stores every model in Postgres', async () => {
    const factory = createAdapterFactory({ dataSource });
    for (const model of [...postgresModels, ...redisModels, 'PreAuthorizedCode']) {
      const id = randomUUID();
      await saveVia(factory(model), id);
      expect(await inPostgres(model, id)).toBe(true);
    }
  });

  it.skipIf(!redisConfig)(`with Redis, keeps hot models there and durable ones in Postgres${redisConfig ? '' : ' (skipped: REDIS_URL not set)'}`, async () => {
    const factory = createAdapterFactory({ dataSource, redis });
    for (const model of [...postgresModels, ...redisModels]) {
      const id = randomUUID();
      await saveVia(factory(model), id);
      const inRedis = (await rawRedis!.exists(`${redisConfig!.keyPrefix}${model}:${id}`)) === 1;
      expect({ model, inRedis, inPostgres: await inPostgres(model, id) })
        .toEqual({ model, inRedis: !postgresModels.includes(model as never), inPostgres: postgresModels.includes(model as never) });
    }
  });

  it('lets an override win over the routing', async () => {
    const fake = createMemoryAdapter()('Client');
    const factory = createAdapterFactory({ dataSource, redis, overrides: { Client: () => fake, AccessToken: () => fake } });
    expect(factory('Client')).toBe(fake);
    expect(factory('AccessToken')).toBe(fake);
    expect(factory('Grant')).not.toBe(fake);
  });

  it('is accepted by oidc-provider as its adapter, and its token endpoint race ends in invalid_grant', async () => {
    const provider = new Provider('http://127.0.0.1:3000', {
      adapter: createAdapterFactory({ dataSource, redis }),
      clients: [{ client_id: 'rp', client_secret: 'secret', redirect_uris: ['https://rp.test/cb'] }],
    });
    const client = (await provider.Client.find('rp'))!;
    const grant = new provider.Grant({ accountId: 'a1', clientId: 'rp' });
    grant.addOIDCScope('openid');
    const grantId = await grant.save();
    expect(await inPostgres('Grant', grantId)).toBe(true);

    const code = new provider.AuthorizationCode({
      accountId: 'a1', client, grantId, gty: 'authorization_code', scope: 'openid', redirectUri: 'https://rp.test/cb',
    });
    const value = await code.save();
    const [first, second] = await Promise.all([provider.AuthorizationCode.find(value), provider.AuthorizationCode.find(value)]);
    const { fulfilled, reasons } = await settle([first!.consume(), second!.consume()]);
    expect(fulfilled).toBe(1);
    expect(reasons[0]).toBeInstanceOf(errors.InvalidGrant);
    expect((await provider.AuthorizationCode.find(value))?.isValid).toBe(false); // consumed
  });
});
