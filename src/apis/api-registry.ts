import type { z } from 'zod';
import type { ApiConfig } from '../config/schema.js';
import { BadRequestError, ConflictError, NotFoundError, assertThat } from '../errors/app-error.js';
import type { Database } from '../infra/unit-of-work.js';
import type { Repositories } from '../repositories.js';
import type { ApiUpdate } from './api-repository.js';
import { apiChangesSchema, apiInputSchema, type ApiChanges, type ApiInput } from './api-schema.js';
import type { StoredApi } from './api.entity.js';
import { createKeyedCache } from '../infra/keyed-cache.js';

/** Where an API is defined: Portcullis's own admin API, config `apis`, or the `apis` table. */
export type ApiSource = 'builtin' | 'config' | 'database';

/** An API as every caller sees it, whatever its source; only `database` ones can change. */
export interface RegisteredApi {
  identifier: string;
  name: string | null;
  scopes: string[];
  accessTokenTtl: number;
  rbac: boolean;
  /** Tokens only for allowed clients and second-factor sign-ins (privileged-api-policy.ts). */
  privileged: boolean;
  source: ApiSource;
  createdAt: Date | null;
  updatedAt: Date | null;
}

/** What other features need: one API by its resource indicator. */
export interface ApiLookup {
  /**
   * Answered from a copy at most `cacheSeconds` old (token endpoint); `fresh` reads the database,
   * for admin writes that must not act on another instance's stale view (granting a permission).
   */
  find(identifier: string, options?: { fresh?: boolean }): Promise<RegisteredApi | undefined>;
}

export interface ApiRegistryDeps {
  db: Database<Repositories>;
  /** Config `apis`. */
  configured: readonly ApiConfig[];
  /** APIs Portcullis defines itself (the admin API); they win over config and the database. */
  builtin: readonly ApiConfig[];
  /** How long `find` trusts its copy of the `apis` table; other instances' writes show within it. */
  cacheSeconds?: number;
  /** Milliseconds, for the cache's expiry. */
  clock?: () => number;
}

/** Seconds another instance's change to a registered API may take to reach this one. */
export const apiCacheSeconds = 5;

const fieldNames = ['name', 'scopes', 'accessTokenTtl', 'rbac', 'privileged'] as const;

function fromConfig(api: ApiConfig, source: 'builtin' | 'config'): RegisteredApi {
  return { identifier: api.identifier, name: api.name ?? null, scopes: [...api.scopes],
    accessTokenTtl: api.accessTokenTtl, rbac: api.rbac,
    privileged: api.privileged ?? false, source, createdAt: null, updatedAt: null };
}

function fromRow(row: StoredApi): RegisteredApi {
  return { identifier: row.identifier, name: row.name, scopes: row.scopes, accessTokenTtl: row.accessTokenTtl,
    rbac: row.rbac,
    privileged: row.privileged, source: 'database', createdAt: row.createdAt, updatedAt: row.updatedAt };
}

/** Validates with the shared schema; a refusal names the field, like config errors do. */
function validate<T extends z.ZodType>(schema: T, value: unknown): z.output<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const field = issue.path.map(String).join('.');
  throw new BadRequestError('invalid_api', field ? `${field}: ${issue.message}` : issue.message);
}

const quoteList = (items: string[]) => items.join(', ');

/**
 * The APIs (resource indicators, RFC 8707) tokens can be issued for: the built-in admin API,
 * config `apis`, and APIs admins register at run time. Only the last can be changed; every
 * change is audited in its transaction. `find` serves the token endpoint from an in-process copy
 * of the table, dropped at once on local writes and re-read after `cacheSeconds` otherwise.
 */
export function createApiRegistry({ db, configured, builtin, cacheSeconds = apiCacheSeconds, clock = Date.now }: ApiRegistryDeps) {
  // Built-in first so it wins a clash with config.
  const fixed = new Map<string, RegisteredApi>();
  for (const api of builtin) fixed.set(api.identifier, fromConfig(api, 'builtin'));
  for (const api of configured) if (!fixed.has(api.identifier)) fixed.set(api.identifier, fromConfig(api, 'config'));

  // The whole table under one key: it is small, and unknown identifiers are answered from it too.
  const table = createKeyedCache({
    load: async (_all: 'apis') => new Map((await db.repos.apis.list()).map((row) => [row.identifier, fromRow(row)])),
    ttlMs: cacheSeconds * 1000,
    clock,
  });
  const cache = { get: () => table.get('apis'), invalidate: () => table.invalidate('apis') };

  /** Config and built-in APIs are read-only here: they change where they are defined. */
  function assertWritable(identifier: string): void {
    const api = fixed.get(identifier);
    if (api?.source === 'builtin') throw new ConflictError('api_read_only', `${identifier} is Portcullis's built-in admin API; it cannot be changed or deleted`);
    if (api?.source === 'config') throw new ConflictError('api_read_only', `${identifier} is defined in config (apis); change it in the configuration file`);
  }

  async function mustFindRow(repos: Repositories, identifier: string): Promise<StoredApi> {
    const row = await repos.apis.findForUpdate(identifier);
    assertThat(row, new NotFoundError('api_not_found', `no API with identifier ${identifier}`));
    return row;
  }

  return {
    /** Built-in, then config, then registered APIs (by identifier); a row shadowed by config is left out. */
    async list(): Promise<RegisteredApi[]> {
      const stored = (await db.repos.apis.list()).filter((row) => !fixed.has(row.identifier)).map(fromRow);
      return [...fixed.values(), ...stored];
    },

    /** Read fresh from the database (admin reads and ETags must see the latest write). */
    async show(identifier: string): Promise<RegisteredApi> {
      const known = fixed.get(identifier);
      if (known) return known;
      const row = await db.repos.apis.findByIdentifier(identifier);
      assertThat(row, new NotFoundError('api_not_found', `no API with identifier ${identifier}`));
      return fromRow(row);
    },

    /** The API for a resource indicator, or undefined; unknown identifiers are answered from the cache too. */
    async find(identifier: string, options: { fresh?: boolean } = {}): Promise<RegisteredApi | undefined> {
      const known = fixed.get(identifier);
      if (known) return known;
      if (!options.fresh) return (await cache.get()).get(identifier);
      const row = await db.repos.apis.findByIdentifier(identifier);
      return row ? fromRow(row) : undefined;
    },

    async create(input: ApiInput, actor: string): Promise<RegisteredApi> {
      const api = validate(apiInputSchema, input);
      if (fixed.has(api.identifier)) throw new ConflictError('api_exists', `${api.identifier} is already defined (${fixed.get(api.identifier)!.source === 'builtin' ? 'the built-in admin API' : 'config apis'})`);
      try {
        return await db.transaction(async (repos) => {
          const saved = await repos.apis.insert({ ...api, createdBy: actor });
          assertThat(saved, new ConflictError('api_exists', `an API with identifier ${api.identifier} is already registered`));
          await repos.audit.append({ type: 'api.created', actor, details: {
            identifier: api.identifier, name: api.name, scopes: api.scopes, accessTokenTtl: api.accessTokenTtl,
            rbac: api.rbac,
            privileged: api.privileged,
          } });
          return fromRow(saved);
        });
      } finally {
        cache.invalidate();
      }
    },

    /** Changes name, scopes, lifetime, RBAC or privileged; the identifier stays. Unchanged values record nothing. */
    /** `precondition` runs on the locked row before the change (the admin API's If-Match): throw to refuse. */
    async update(identifier: string, changes: ApiChanges, actor: string, options: { precondition?: (current: RegisteredApi) => void } = {}): Promise<RegisteredApi> {
      assertWritable(identifier);
      const wanted = validate(apiChangesSchema, changes);
      try {
        return await db.transaction(async (repos) => {
          const before = await mustFindRow(repos, identifier);
          options.precondition?.(fromRow(before));
          const changed = fieldNames.filter((key) => wanted[key] !== undefined && JSON.stringify(wanted[key]) !== JSON.stringify(before[key]));
          if (!changed.length) return fromRow(before);
          const update: ApiUpdate = Object.fromEntries(changed.map((key) => [key, wanted[key]]));
          await repos.apis.update(identifier, update);
          await repos.audit.append({
            type: 'api.updated', actor,
            details: { identifier, before: Object.fromEntries(changed.map((key) => [key, before[key]])), after: update },
          });
          return fromRow((await repos.apis.findByIdentifier(identifier))!);
        });
      } finally {
        cache.invalidate();
      }
    },

    /**
     * Refused (409 `api_in_use`) while a role holds a permission on the API or a live API key is
     * bound to it: deleting would silently strip those, and re-registering the identifier would
     * bring the stale grants back. Revoke them first; each revocation is audited on its own.
     */
    async delete(identifier: string, actor: string): Promise<void> {
      assertWritable(identifier);
      try {
        await db.transaction(async (repos) => {
          const api = await mustFindRow(repos, identifier);
          const { roles, apiKeys } = await repos.apis.dependants(identifier);
          if (roles.length || apiKeys.length) {
            const parts = [
              ...(roles.length ? [`role${roles.length > 1 ? 's' : ''} ${quoteList(roles)}`] : []),
              ...(apiKeys.length ? [`API key${apiKeys.length > 1 ? 's' : ''} ${quoteList(apiKeys.map((key) => `${key.id} (${key.name})`))}`] : []),
            ];
            throw new ConflictError('api_in_use', `${identifier} is still used by ${parts.join(' and ')}: revoke those permissions and keys first`);
          }
          await repos.apis.delete(identifier);
          await repos.audit.append({ type: 'api.deleted', actor, details: {
            identifier, name: api.name, scopes: api.scopes, accessTokenTtl: api.accessTokenTtl, rbac: api.rbac,
            privileged: api.privileged,
          } });
        });
      } finally {
        cache.invalidate();
      }
    },
  };
}

export type ApiRegistry = ReturnType<typeof createApiRegistry>;
