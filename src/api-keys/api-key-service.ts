import { BadRequestError, NotFoundError, assertThat } from '../errors/app-error.js';
import type { ApiLookup } from '../apis/api-registry.js';
import type { Database } from '../infra/unit-of-work.js';
import type { Repositories } from '../repositories.js';
import type { ApiKey } from './api-key.entity.js';
import { digestSecret, formatApiKey, newApiKeyParts, parseApiKey, secretMatches } from './api-key-format.js';

/** Who owns a key: a service client (service keys) or an account (personal keys, id or email). */
export type ApiKeyOwner = { type: 'service'; clientId: string } | { type: 'account'; accountId: string };

export interface ApiKeyInput {
  owner: ApiKeyOwner;
  name: string;
  scopes?: string[];
  /** A registered API's resource indicator (config `apis`, `apis create`, or the admin API). */
  api?: string | null;
  expiresAt?: Date | null;
}

/** What callers may see of a key: never the digest. */
export type ApiKeyView = Omit<ApiKey, 'secretDigest'>;

function view({ secretDigest: _digest, ...key }: ApiKey): ApiKeyView {
  return key;
}

export interface ApiKeyServiceDeps {
  db: Database<Repositories>;
  apis: ApiLookup;
  now?: () => Date;
}

const scopeToken = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

/** Creates, lists, revokes and rotates API keys, and checks presented ones; changes are audited. */
export function createApiKeyService({ db, apis, now = () => new Date() }: ApiKeyServiceDeps) {
  async function mustFind(repos: Repositories, id: string): Promise<ApiKey> {
    const key = await repos.apiKeys.findById(id);
    assertThat(key, new NotFoundError('api_key_not_found', `no API key with id ${id}`));
    return key;
  }

  const ownerFields = (key: Pick<ApiKey, 'clientId' | 'accountId'>) => ({ ...(key.clientId ? { clientId: key.clientId } : {}), ...(key.accountId ? { accountId: key.accountId } : {}) });

  return {
    /** Returns the key and its full value: the only time the secret is shown. */
    async create(input: ApiKeyInput, actor: string): Promise<{ key: ApiKeyView; token: string }> {
      const name = input.name.trim();
      if (!name) throw new BadRequestError('invalid_name', 'name must not be empty');
      const scopes = [...new Set(input.scopes ?? [])];
      const bad = scopes.find((scope) => !scopeToken.test(scope));
      if (bad !== undefined) throw new BadRequestError('invalid_scope', `"${bad}" is not a scope token`);
      const api = input.api ?? null;
      if (api !== null) {
        const declared = await apis.find(api, { fresh: true });
        if (!declared) throw new BadRequestError('invalid_api', `${api} is not a registered API`);
        const undeclared = scopes.filter((scope) => !declared.scopes.includes(scope));
        if (undeclared.length) throw new BadRequestError('invalid_scope', `${api} declares no scope ${undeclared.join(', ')}`);
      }
      const expiresAt = input.expiresAt ?? null;
      if (expiresAt && expiresAt.getTime() <= now().getTime()) throw new BadRequestError('invalid_expiry', 'the expiry must be in the future');
      const { id, secret } = newApiKeyParts();
      const key = await db.transaction(async (repos) => {
        let clientId: string | null = null;
        let accountId: string | null = null;
        if (input.owner.type === 'service') {
          const client = await repos.clients.findById(input.owner.clientId);
          assertThat(client, new NotFoundError('client_not_found', `no client with id ${input.owner.clientId}`));
          if (client.type !== 'service') throw new BadRequestError('invalid_owner', 'service keys are owned by service clients');
          clientId = client.clientId;
        } else {
          const ref = input.owner.accountId;
          const account = ref.includes('@') ? await repos.accounts.findByEmail(ref) : /^[0-9a-f-]{36}$/i.test(ref) ? await repos.accounts.findById(ref) : null;
          assertThat(account, new NotFoundError('account_not_found', `no account ${ref}`));
          accountId = account.id;
        }
        const saved = await repos.apiKeys.insert({
          id, ownerType: input.owner.type, clientId, accountId, name, secretDigest: digestSecret(secret), scopes, api, expiresAt, createdBy: actor,
        });
        await repos.audit.append({ type: 'api_key.created', actor, ...ownerFields(saved), details: { apiKeyId: id, name, scopes, api, expiresAt: expiresAt?.toISOString() ?? null } });
        return saved;
      });
      return { key: view(key), token: formatApiKey(id, secret) };
    },

    list: async (filter: { clientId?: string; accountId?: string } = {}) => (await db.repos.apiKeys.list(filter)).map(view),

    show: async (id: string) => view(await mustFind(db.repos, id)),

    /** Revokes a key for good; revoking twice is a no-op that records nothing. */
    async revoke(id: string, actor: string, options: { accountId?: string } = {}): Promise<ApiKeyView> {
      return db.transaction(async (repos) => {
        const key = await mustFind(repos, id);
        // A person may revoke only their own keys; a stranger's id reads as unknown.
        if (options.accountId !== undefined && key.accountId !== options.accountId) throw new NotFoundError('api_key_not_found', `no API key with id ${id}`);
        if (key.revokedAt) return view(key);
        const revokedAt = now();
        await repos.apiKeys.update(id, { revokedAt });
        await repos.audit.append({ type: 'api_key.revoked', actor, ...ownerFields(key), details: { apiKeyId: id } });
        return view({ ...key, revokedAt });
      });
    },

    /** A new secret for the same id; the old value stops working at once. */
    async rotate(id: string, actor: string): Promise<{ key: ApiKeyView; token: string }> {
      return db.transaction(async (repos) => {
        const key = await mustFind(repos, id);
        if (key.revokedAt) throw new BadRequestError('api_key_revoked', 'a revoked key cannot be rotated');
        const { secret } = newApiKeyParts();
        const secretDigest = digestSecret(secret);
        await repos.apiKeys.update(id, { secretDigest });
        await repos.audit.append({ type: 'api_key.rotated', actor, ...ownerFields(key), details: { apiKeyId: id } });
        return { key: view({ ...key, secretDigest }), token: formatApiKey(id, secret) };
      });
    },

    /**
     * The key a presented value names, if it is well-formed, matches, and is neither revoked nor
     * expired; records the use (at most once a minute). Every refusal is the same undefined.
     */
    async verify(value: string, ip: string | null = null): Promise<ApiKeyView | undefined> {
      const parts = parseApiKey(value);
      if (!parts) return undefined;
      const key = await db.repos.apiKeys.findById(parts.id);
      if (!key || !secretMatches(parts.secret, key.secretDigest)) return undefined;
      const at = now();
      if (key.revokedAt || (key.expiresAt && key.expiresAt.getTime() <= at.getTime())) return undefined;
      // A personal key speaks for its owner: a disabled account's keys stop working with it.
      if (key.accountId && (await db.repos.accounts.findById(key.accountId))?.disabledAt) return undefined;
      await db.repos.apiKeys.touch(key.id, ip, at);
      return view(key);
    },
  };
}

export type ApiKeyService = ReturnType<typeof createApiKeyService>;
