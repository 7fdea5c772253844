import type { AdapterPayload } from 'oidc-provider';
import type { DataSource } from '../../infra/data-source.js';
import type { RedisClient } from '../../infra/redis.js';
import { createOidcModelRepository } from './oidc-model-repository.js';
import { createPostgresAdapter } from './postgres-adapter.js';
import { createRedisAdapter } from './redis-adapter.js';

/** The storage contract oidc-provider calls, one adapter instance per model name. */
export interface Adapter {
  /** `expiresIn` is in seconds; undefined means no expiry (e.g. dynamically registered clients). */
  upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void>;
  find(id: string): Promise<AdapterPayload | undefined>;
  findByUid(uid: string): Promise<AdapterPayload | undefined>;
  findByUserCode(userCode: string): Promise<AdapterPayload | undefined>;
  /** Resolves for the one caller that consumed it; rejects (InvalidGrant) for every other. */
  consume(id: string): Promise<void>;
  destroy(id: string): Promise<void>;
  revokeByGrantId(grantId: string): Promise<void>;
}

export type { AdapterPayload };
export type AdapterFactory = (name: string) => Adapter;

/** Durable models: they must survive restarts, and sessions are listed per account. */
export const postgresModels = ['Session', 'Grant', 'RefreshToken', 'Client', 'RegistrationAccessToken'] as const;

/** Short-lived, hot-path models: in Redis when there is one, otherwise in Postgres. */
export const redisModels = [
  'AuthorizationCode', 'Interaction', 'AccessToken', 'ClientCredentials', 'DeviceCode',
  'PushedAuthorizationRequest', 'ReplayDetection', 'BackchannelAuthenticationRequest',
] as const;

const redisModelSet: ReadonlySet<string> = new Set(redisModels);

/** Which store a model lives in; any model not listed (a future one) goes to Postgres. */
export function storeForModel(name: string, redisAvailable: boolean): 'postgres' | 'redis' {
  return redisAvailable && redisModelSet.has(name) ? 'redis' : 'postgres';
}

export interface AdapterFactoryDeps {
  dataSource: DataSource;
  redis?: RedisClient;
  /** Clock in epoch milliseconds for expiry and `consumed`; defaults to Date.now. */
  now?: () => number;
  /** Per-model replacements, e.g. the Client model read from the clients table. */
  overrides?: Partial<Record<string, (name: string) => Adapter>>;
}

/**
 * The value for oidc-provider's `adapter` option. v9 calls it once per model (and caches the
 * result) with `new` only if it is constructable, so this returns an arrow function: not
 * constructable, not async, which is what it accepts as a factory.
 * @see https://github.com/panva/node-oidc-provider/blob/v9.13.3/lib/helpers/initialize_adapter.js#L16-L22
 * @see https://github.com/panva/node-oidc-provider/blob/v9.13.3/lib/models/base_model.js#L19-L31
 */
export function createAdapterFactory(deps: AdapterFactoryDeps): AdapterFactory {
  const repository = createOidcModelRepository(deps.dataSource);
  const { redis, now, overrides = {} } = deps;
  return (name: string): Adapter => {
    const override = overrides[name];
    if (override) return override(name);
    if (redis && redisModelSet.has(name)) return createRedisAdapter(name, { client: redis, now });
    return createPostgresAdapter(name, { repository, now });
  };
}
