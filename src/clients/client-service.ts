import { randomBytes } from 'node:crypto';
import { BadRequestError, NotFoundError, assertThat } from '../errors/app-error.js';
import type { SecretBox } from '../infra/secret-box.js';
import type { Database } from '../infra/unit-of-work.js';
import type { Repositories } from '../repositories.js';
import type { Client, ClientType } from './client.entity.js';
import { redirectUriProblem } from './redirect-uri.js';

export interface ClientInput {
  name: string;
  type: ClientType;
  redirectUris?: string[];
  postLogoutRedirectUris?: string[];
  firstParty?: boolean;
  /** Accounts with an unverified email may sign in to this client (accounts.requireVerifiedEmail otherwise). */
  allowUnverifiedEmail?: boolean;
  requireMfa?: boolean;
}

export type ClientChanges = Partial<Omit<ClientInput, 'type'>>;

/** What callers may see of a client: never the secret. */
export type ClientView = Omit<Client, 'secretEncrypted'> & { hasSecret: boolean };

export const confidentialTypes: ReadonlySet<ClientType> = new Set(['web', 'service']);

function view({ secretEncrypted, ...client }: Client): ClientView {
  return { ...client, hasSecret: secretEncrypted !== null };
}

function checkUris(type: ClientType, redirectUris: string[], postLogoutRedirectUris: string[]): void {
  if (type === 'service' && redirectUris.length) throw new BadRequestError('invalid_redirect_uri', 'service clients have no redirect URIs');
  if (type !== 'service' && !redirectUris.length) throw new BadRequestError('invalid_redirect_uri', `a ${type} client needs at least one redirect URI`);
  for (const uri of [...redirectUris, ...postLogoutRedirectUris]) {
    const problem = redirectUriProblem(uri, type);
    if (problem) throw new BadRequestError('invalid_redirect_uri', problem);
  }
}

export interface ClientServiceDeps { db: Database<Repositories>; secretBox: SecretBox }

/** Registers and manages clients; every change is audited in its own transaction. */
export function createClientService({ db, secretBox }: ClientServiceDeps) {
  const newSecret = () => randomBytes(32).toString('base64url');

  async function mustFind(repos: Repositories, clientId: string): Promise<Client> {
    const client = await repos.clients.findById(clientId);
    assertThat(client, new NotFoundError('client_not_found', `no client with id ${clientId}`));
    return client;
  }

  return {
    /** Returns the client and, for confidential clients, the secret: the only time it is shown. */
    async create(input: ClientInput, actor: string): Promise<{ client: ClientView; secret?: string }> {
      const redirectUris = input.redirectUris ?? [];
      const postLogoutRedirectUris = input.postLogoutRedirectUris ?? [];
      if (!input.name.trim()) throw new BadRequestError('invalid_name', 'name must not be empty');
      checkUris(input.type, redirectUris, postLogoutRedirectUris);
      const secret = confidentialTypes.has(input.type) ? newSecret() : undefined;
      const client = await db.transaction(async (repos) => {
        const saved = await repos.clients.insert({
          clientId: randomBytes(16).toString('base64url'),
          name: input.name.trim(),
          type: input.type,
          secretEncrypted: secret ? await secretBox.seal(secret) : null,
          redirectUris,
          postLogoutRedirectUris,
          firstParty: input.firstParty ?? false,
          allowUnverifiedEmail: input.allowUnverifiedEmail ?? false,
          requireMfa: input.requireMfa ?? false,
        });
        await repos.audit.append({ type: 'client.created', actor, clientId: saved.clientId, details: { name: saved.name, clientType: saved.type, redirectUris, postLogoutRedirectUris } });
        return saved;
      });
      return { client: view(client), secret };
    },

    list: async () => (await db.repos.clients.list()).map(view),

    show: async (clientId: string) => view(await mustFind(db.repos, clientId)),

    async update(clientId: string, changes: ClientChanges, actor: string): Promise<ClientView> {
      return db.transaction(async (repos) => {
        const before = await mustFind(repos, clientId);
        const after = { ...before, ...Object.fromEntries(Object.entries(changes).filter(([, v]) => v !== undefined)) } as Client;
        if (!after.name.trim()) throw new BadRequestError('invalid_name', 'name must not be empty');
        checkUris(after.type, after.redirectUris, after.postLogoutRedirectUris);
        const changed = (['name', 'redirectUris', 'postLogoutRedirectUris', 'firstParty', 'allowUnverifiedEmail', 'requireMfa'] as const)
          .filter((key) => JSON.stringify(before[key]) !== JSON.stringify(after[key]));
        await repos.clients.update(clientId, Object.fromEntries(changed.map((key) => [key, after[key]])));
        await repos.audit.append({
          type: 'client.updated', actor, clientId,
          details: { before: Object.fromEntries(changed.map((k) => [k, before[k]])), after: Object.fromEntries(changed.map((k) => [k, after[k]])) },
        });
        return view(after);
      });
    },

    async delete(clientId: string, actor: string): Promise<void> {
      await db.transaction(async (repos) => {
        const client = await mustFind(repos, clientId);
        await repos.clients.delete(clientId);
        await repos.audit.append({ type: 'client.deleted', actor, clientId, details: { name: client.name } });
      });
    },

    async rotateSecret(clientId: string, actor: string): Promise<{ client: ClientView; secret: string }> {
      return db.transaction(async (repos) => {
        const client = await mustFind(repos, clientId);
        if (!confidentialTypes.has(client.type)) throw new BadRequestError('client_has_no_secret', `${client.type} clients are public and have no secret`);
        const secret = newSecret();
        const secretEncrypted = await secretBox.seal(secret);
        await repos.clients.update(clientId, { secretEncrypted });
        await repos.audit.append({ type: 'client.secret_rotated', actor, clientId });
        return { client: view({ ...client, secretEncrypted }), secret };
      });
    },

    /** The client's metadata as oidc-provider's Client adapter must return it, or undefined. */
    async oidcMetadata(clientId: string): Promise<Record<string, unknown> | undefined> {
      const client = await db.repos.clients.findById(clientId);
      if (!client) return undefined;
      return toOidcMetadata(client, client.secretEncrypted ? await secretBox.open(client.secretEncrypted) : undefined);
    },
  };
}

/** Maps a client type to the OAuth metadata oidc-provider validates. */
export function toOidcMetadata(client: Client, secret: string | undefined): Record<string, unknown> {
  const common = { client_id: client.clientId, client_name: client.name, first_party: client.firstParty, allow_unverified_email: client.allowUnverifiedEmail, require_mfa: client.requireMfa };
  if (client.type === 'service') {
    return { ...common, client_secret: secret, grant_types: ['client_credentials'], response_types: [], redirect_uris: [], token_endpoint_auth_method: 'client_secret_basic' };
  }
  return {
    ...common,
    ...(secret ? { client_secret: secret } : {}),
    application_type: client.type === 'native' ? 'native' : 'web',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: client.redirectUris,
    post_logout_redirect_uris: client.postLogoutRedirectUris,
    token_endpoint_auth_method: client.type === 'web' ? 'client_secret_basic' : 'none',
  };
}

export type ClientService = ReturnType<typeof createClientService>;
