import { errors } from 'oidc-provider';
import type { Adapter, AdapterPayload } from './adapter-factory.js';
import type { ConsumeOutcome, OidcModelRepository, StoredOidcModel } from './oidc-model-repository.js';

/**
 * Models indexed by `grantId`, so one `revokeByGrantId` call removes all of them, whichever
 * model's adapter it is called on. Same set as oidc-provider's memory adapter; shared with the
 * Redis adapter so every store revokes alike.
 */
export const grantableModels: ReadonlySet<string> = new Set([
  'AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode',
  'BackchannelAuthenticationRequest', 'PreAuthorizedCode',
]);

/**
 * The error for a consume() that lost: oidc-provider checks `consumed` and then calls consume()
 * without a lock, so the adapter is where a reused or raced code is refused. InvalidGrant makes the
 * token endpoint answer 400 invalid_grant instead of 500. A raced PAR request_uri gets the error
 * the authorization endpoint itself uses for a used one.
 * @see https://github.com/panva/node-oidc-provider/blob/v9.13.3/lib/helpers/grant_source.js#L23-L32
 * @see https://github.com/panva/node-oidc-provider/blob/v9.13.3/lib/actions/grants/refresh_token.js#L107-L122
 * @see https://github.com/panva/node-oidc-provider/blob/v9.13.3/lib/actions/authorization/respond.js#L25-L28
 */
export function consumeRejection(model: string, outcome: Exclude<ConsumeOutcome, 'consumed'>): errors.OIDCProviderError {
  if (model === 'PushedAuthorizationRequest') {
    return new errors.InvalidRequestUri('request_uri is invalid, expired, or was already used');
  }
  return new errors.InvalidGrant(outcome === 'already_consumed' ? `${model} already consumed` : `${model} not found`);
}

export interface PostgresAdapterOptions {
  repository: OidcModelRepository;
  /** Clock in epoch milliseconds; tests inject one to expire rows without sleeping. */
  now?: () => number;
}

const stringOrNull = (value: unknown): string | null => (typeof value === 'string' ? value : null);
const epochSeconds = (date: Date): number => Math.floor(date.getTime() / 1000);

function toPayload(stored: StoredOidcModel | undefined): AdapterPayload | undefined {
  if (!stored) return undefined;
  // oidc-provider reads `consumed` (epoch seconds) off the payload, as the memory adapter sets it.
  return stored.consumedAt ? { ...stored.payload, consumed: epochSeconds(stored.consumedAt) } : { ...stored.payload };
}

/** An oidc-provider adapter for one model over the `oidc_model_instances` table. */
export function createPostgresAdapter(model: string, { repository, now = Date.now }: PostgresAdapterOptions): Adapter {
  const clock = () => new Date(now());
  return {
    async upsert(id, payload, expiresIn) {
      await repository.upsert({
        model,
        id,
        payload,
        grantId: grantableModels.has(model) ? stringOrNull(payload.grantId) : null,
        uid: stringOrNull(payload.uid),
        userCode: stringOrNull(payload.userCode),
        expiresAt: typeof expiresIn === 'number' ? new Date(now() + expiresIn * 1000) : null,
        // An upsert replaces the instance, so it is consumed only if the saved payload says so.
        consumedAt: typeof payload.consumed === 'number' ? new Date(payload.consumed * 1000) : null,
      });
    },
    find: async (id) => toPayload(await repository.find(model, id, clock())),
    findByUid: async (uid) => toPayload(await repository.findByUid(model, uid, clock())),
    findByUserCode: async (userCode) => toPayload(await repository.findByUserCode(model, userCode, clock())),
    async consume(id) {
      const outcome = await repository.consume(model, id, clock());
      if (outcome !== 'consumed') throw consumeRejection(model, outcome);
    },
    async destroy(id) {
      await repository.destroy(model, id);
    },
    async revokeByGrantId(grantId) {
      await repository.revokeByGrantId(grantId);
    },
  };
}
