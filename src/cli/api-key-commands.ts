import type { ApiKeyOwner, ApiKeyView } from '../api-keys/api-key-service.js';
import { describeRecord, print, requirePositional, requireString, stringList, UsageError, type CliCommand, type OptionValues } from './cli-command.js';

const actor = 'cli';

function apiKeyJson(key: ApiKeyView, token?: string) {
  return {
    id: key.id,
    ...(token ? { api_key: token } : {}),
    owner_type: key.ownerType,
    client_id: key.clientId,
    account_id: key.accountId,
    name: key.name,
    scopes: key.scopes,
    api: key.api,
    expires_at: key.expiresAt,
    last_used_at: key.lastUsedAt,
    last_used_ip: key.lastUsedIp,
    revoked_at: key.revokedAt,
    created_at: key.createdAt,
    created_by: key.createdBy,
  };
}

const describe = (key: ReturnType<typeof apiKeyJson>) => describeRecord(key);

function owner(values: OptionValues): ApiKeyOwner {
  const client = values.client;
  const account = values.account;
  if ((client === undefined) === (account === undefined)) throw new UsageError('give exactly one of --client <id> or --account <id|email>');
  return typeof client === 'string' ? { type: 'service', clientId: client } : { type: 'account', accountId: String(account) };
}

function expiresAt(values: OptionValues): Date | null {
  const raw = values['expires-in'];
  if (raw === undefined) return null;
  if (typeof raw !== 'string' || !/^\d+$/.test(raw) || Number(raw) < 1) throw new UsageError('--expires-in must be a whole number of days, at least 1');
  return new Date(Date.now() + Number(raw) * 86_400_000);
}

export const apiKeyCommands: Record<string, CliCommand> = {
  create: {
    summary: 'create an API key; prints it once',
    usage: '--client <id> | --account <id|email> --name N [--scope S]... [--api URL] [--expires-in DAYS]',
    options: { client: { type: 'string' }, account: { type: 'string' }, name: { type: 'string' }, scope: { type: 'string', multiple: true }, api: { type: 'string' }, 'expires-in': { type: 'string' } },
    async run(container, values, _positionals, io) {
      const { key, token } = await container.apiKeys.create({
        owner: owner(values), name: requireString(values, 'name'), scopes: stringList(values, 'scope') ?? [],
        api: typeof values.api === 'string' ? values.api : null, expiresAt: expiresAt(values),
      }, actor);
      print(io, apiKeyJson(key, token), (json) => `${describe(json)}\n\nStore the key now: it is not shown again.`);
    },
  },
  list: {
    summary: 'list API keys (all, or one owner\'s)',
    usage: '[--client <id> | --account <id>]',
    options: { client: { type: 'string' }, account: { type: 'string' } },
    async run(container, values, _positionals, io) {
      const keys = await container.apiKeys.list({
        ...(typeof values.client === 'string' ? { clientId: values.client } : {}),
        ...(typeof values.account === 'string' ? { accountId: values.account } : {}),
      });
      print(io, keys.map((key) => apiKeyJson(key)), (list) => list.map((key) => `${key.id}  ${key.owner_type}  ${key.client_id ?? key.account_id}  ${key.name}${key.revoked_at ? '  (revoked)' : ''}`).join('\n') || 'no API keys');
    },
  },
  show: {
    summary: 'show one API key (never its secret)',
    usage: '<id>',
    async run(container, _values, positionals, io) {
      print(io, apiKeyJson(await container.apiKeys.show(requirePositional(positionals, 'id'))), describe);
    },
  },
  revoke: {
    summary: 'revoke an API key',
    usage: '<id>',
    async run(container, _values, positionals, io) {
      print(io, apiKeyJson(await container.apiKeys.revoke(requirePositional(positionals, 'id'), actor)), describe);
    },
  },
  rotate: {
    summary: 'give an API key a new secret (same id); prints it once',
    usage: '<id>',
    async run(container, _values, positionals, io) {
      const { key, token } = await container.apiKeys.rotate(requirePositional(positionals, 'id'), actor);
      print(io, apiKeyJson(key, token), (json) => `${describe(json)}\n\nStore the key now: it is not shown again.`);
    },
  },
};
