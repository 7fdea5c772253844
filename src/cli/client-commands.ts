import { clientTypes, type ClientType } from '../clients/client.entity.js';
import type { ClientView } from '../clients/client-service.js';
import { describeRecord, print, requirePositional, requireString, stringList, UsageError, type CliCommand, type OptionValues } from './cli-command.js';

const actor = 'cli';

function clientJson(client: ClientView, secret?: string) {
  return {
    client_id: client.clientId,
    ...(secret ? { client_secret: secret } : {}),
    name: client.name,
    type: client.type,
    redirect_uris: client.redirectUris,
    post_logout_redirect_uris: client.postLogoutRedirectUris,
    first_party: client.firstParty,
    allow_unverified_email: client.allowUnverifiedEmail,
    require_mfa: client.requireMfa,
    backchannel_logout_uri: client.backchannelLogoutUri,
    backchannel_logout_session_required: client.backchannelLogoutSessionRequired,
    access_token_ttl: client.accessTokenTtl,
    id_token_ttl: client.idTokenTtl,
    refresh_token_ttl: client.refreshTokenTtl,
    refresh_token_idle_ttl: client.refreshTokenIdleTtl,
    refresh_token_grace_seconds: client.refreshTokenGraceSeconds,
    session_idle_ttl: client.sessionIdleTtl,
    session_max_age: client.sessionMaxAge,
    require_dpop: client.requireDpop,
    require_par: client.requirePar,
    device_flow: client.deviceFlow,
    allowed_scopes: client.allowedScopes,
    id_token_claims: client.idTokenClaims,
    allow_admin_api: client.allowAdminApi,
    created_at: client.createdAt,
    updated_at: client.updatedAt,
  };
}

const describe = (client: ReturnType<typeof clientJson>) => describeRecord(client);

const editOptions = {
  name: { type: 'string' },
  'redirect-uri': { type: 'string', multiple: true },
  'post-logout-redirect-uri': { type: 'string', multiple: true },
  'first-party': { type: 'boolean' },
  'allow-unverified-email': { type: 'boolean' },
  'require-mfa': { type: 'boolean' },
  'backchannel-logout-uri': { type: 'string' },
  'no-backchannel-logout-session-required': { type: 'boolean' },
  'access-token-ttl': { type: 'string' },
  'id-token-ttl': { type: 'string' },
  'refresh-token-ttl': { type: 'string' },
  'refresh-token-idle-ttl': { type: 'string' },
  'refresh-token-grace': { type: 'string' },
  'session-idle-ttl': { type: 'string' },
  'session-max-age': { type: 'string' },
  'require-dpop': { type: 'boolean' },
  'require-par': { type: 'boolean' },
  'device-flow': { type: 'boolean' },
  'allowed-scopes': { type: 'string' },
  'id-token-claims': { type: 'string' },
  'allow-admin-api': { type: 'boolean' },
} as const;

/**
 * A space-separated list (as OAuth writes scopes); `keyword` (e.g. "any", "default") means null,
 * and "none" (or nothing) an empty list where `noneAllowed`.
 */
function listOption(values: OptionValues, name: string, keyword: string, noneAllowed: boolean): string[] | null | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string') throw new UsageError(`--${name} takes one space-separated list`);
  const trimmed = raw.trim();
  if (trimmed === keyword) return null;
  if (trimmed === 'none' || trimmed === '') {
    if (!noneAllowed) throw new UsageError(`--${name} needs at least one value, or "${keyword}"`);
    return [];
  }
  return trimmed.split(/\s+/);
}

/** A lifetime option in seconds; `default` (update only) clears it back to the global lifetime. */
function ttlOption(values: OptionValues, name: string, clearable: boolean): number | null | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  if (clearable && raw === 'default') return null;
  if (typeof raw !== 'string' || !/^\d+$/.test(raw)) throw new UsageError(`--${name} must be a whole number of seconds${clearable ? ' or "default"' : ''}`);
  return Number(raw);
}

const settingsUsage = '[--backchannel-logout-uri U] [--access-token-ttl S] [--id-token-ttl S] [--refresh-token-ttl S] [--refresh-token-idle-ttl S] [--refresh-token-grace S] [--session-idle-ttl S] [--session-max-age S] [--allowed-scopes "S ..."|any] [--id-token-claims "C ..."|none|default]';

export const clientCommands: Record<string, CliCommand> = {
  create: {
    summary: 'register a client; prints its secret once (web and service)',
    usage: '--name N --type web|spa|native|service [--redirect-uri U]... [--post-logout-redirect-uri U]...'
      + ' [--first-party] [--allow-unverified-email] [--require-mfa]'
      + ` ${settingsUsage} [--no-backchannel-logout-session-required]`
      + ' [--require-dpop] [--require-par] [--device-flow]'
      + ' [--allow-admin-api]',
    options: { ...editOptions, type: { type: 'string' } },
    async run(container, values, _positionals, io) {
      const type = requireString(values, 'type');
      if (!clientTypes.includes(type as ClientType)) throw new UsageError(`--type must be one of ${clientTypes.join(', ')}`);
      const { client, secret } = await container.clients.create({
        name: requireString(values, 'name'), type: type as ClientType,
        redirectUris: stringList(values, 'redirect-uri'), postLogoutRedirectUris: stringList(values, 'post-logout-redirect-uri'),
        firstParty: values['first-party'] === true,
        allowUnverifiedEmail: values['allow-unverified-email'] === true,
        requireMfa: values['require-mfa'] === true,
        backchannelLogoutUri: typeof values['backchannel-logout-uri'] === 'string' ? values['backchannel-logout-uri'] : undefined,
        backchannelLogoutSessionRequired: values['no-backchannel-logout-session-required'] !== true,
        accessTokenTtl: ttlOption(values, 'access-token-ttl', false),
        idTokenTtl: ttlOption(values, 'id-token-ttl', false),
        refreshTokenTtl: ttlOption(values, 'refresh-token-ttl', false),
        refreshTokenIdleTtl: ttlOption(values, 'refresh-token-idle-ttl', false),
        refreshTokenGraceSeconds: ttlOption(values, 'refresh-token-grace', false) ?? undefined,
        sessionIdleTtl: ttlOption(values, 'session-idle-ttl', false),
        sessionMaxAge: ttlOption(values, 'session-max-age', false),
        requireDpop: values['require-dpop'] === true,
        requirePar: values['require-par'] === true,
        deviceFlow: values['device-flow'] === true,
        allowedScopes: listOption(values, 'allowed-scopes', 'any', false),
        idTokenClaims: listOption(values, 'id-token-claims', 'default', true),
        allowAdminApi: values['allow-admin-api'] === true,
      }, actor);
      print(io, clientJson(client, secret), (c) => `${describe(c)}${secret ? '\n\nStore the secret now: it is not shown again.' : ''}`);
    },
  },
  list: {
    summary: 'list clients',
    async run(container, _values, _positionals, io) {
      const clients = (await container.clients.list()).map((client) => clientJson(client));
      print(io, clients, (all) => all.map((c) => `${c.client_id}  ${c.type.padEnd(7)} ${c.name}`).join('\n') || 'no clients');
    },
  },
  show: {
    summary: 'show one client',
    usage: '<client_id>',
    async run(container, _values, positionals, io) {
      print(io, clientJson(await container.clients.show(requirePositional(positionals, 'client_id'))), describe);
    },
  },
  update: {
    summary: 'change a client\'s settings (lists given replace the old ones; a ttl of "default" restores the global one; --allowed-scopes any allows every scope again)',
    usage: '<client_id> [--name N] [--redirect-uri U]... [--post-logout-redirect-uri U]...'
      + ' [--first-party|--no-first-party] [--allow-unverified-email|--no-allow-unverified-email]'
      + ` [--require-mfa|--no-require-mfa] ${settingsUsage} [--no-backchannel-logout-uri]`
      + ' [--backchannel-logout-session-required|--no-backchannel-logout-session-required]'
      + ' [--require-dpop|--no-require-dpop] [--require-par|--no-require-par] [--device-flow|--no-device-flow]'
      + ' [--allow-admin-api|--no-allow-admin-api]',
    options: {
      'no-allow-admin-api': { type: 'boolean' },
      ...editOptions, 'no-first-party': { type: 'boolean' }, 'no-allow-unverified-email': { type: 'boolean' }, 'no-require-mfa': { type: 'boolean' },
      'no-backchannel-logout-uri': { type: 'boolean' }, 'backchannel-logout-session-required': { type: 'boolean' }, 'no-require-dpop': { type: 'boolean' }, 'no-require-par': { type: 'boolean' }, 'no-device-flow': { type: 'boolean' },
    },
    async run(container, values, positionals, io) {
      const flag = (name: string) => (values[name] === true ? true : values[`no-${name}`] === true ? false : undefined);
      const firstParty = flag('first-party');
      const client = await container.clients.update(requirePositional(positionals, 'client_id'), {
        name: typeof values.name === 'string' ? values.name : undefined,
        redirectUris: stringList(values, 'redirect-uri'),
        postLogoutRedirectUris: stringList(values, 'post-logout-redirect-uri'),
        firstParty,
        allowUnverifiedEmail: flag('allow-unverified-email'),
        requireMfa: flag('require-mfa'),
        backchannelLogoutUri: values['no-backchannel-logout-uri'] === true ? null
          : typeof values['backchannel-logout-uri'] === 'string' ? values['backchannel-logout-uri'] : undefined,
        backchannelLogoutSessionRequired: flag('backchannel-logout-session-required'),
        accessTokenTtl: ttlOption(values, 'access-token-ttl', true),
        idTokenTtl: ttlOption(values, 'id-token-ttl', true),
        refreshTokenTtl: ttlOption(values, 'refresh-token-ttl', true),
        refreshTokenIdleTtl: ttlOption(values, 'refresh-token-idle-ttl', true),
        refreshTokenGraceSeconds: ttlOption(values, 'refresh-token-grace', false) ?? undefined,
        sessionIdleTtl: ttlOption(values, 'session-idle-ttl', true),
        sessionMaxAge: ttlOption(values, 'session-max-age', true),
        requireDpop: flag('require-dpop'),
        requirePar: flag('require-par'),
        deviceFlow: flag('device-flow'),
        allowedScopes: listOption(values, 'allowed-scopes', 'any', false),
        idTokenClaims: listOption(values, 'id-token-claims', 'default', true),
        allowAdminApi: flag('allow-admin-api'),
      }, actor);
      print(io, clientJson(client), describe);
    },
  },
  delete: {
    summary: 'delete a client',
    usage: '<client_id>',
    async run(container, _values, positionals, io) {
      const clientId = requirePositional(positionals, 'client_id');
      await container.clients.delete(clientId, actor);
      print(io, { client_id: clientId, deleted: true }, () => `deleted ${clientId}`);
    },
  },
  'rotate-secret': {
    summary: 'replace a confidential client\'s secret; prints the new one once',
    usage: '<client_id>',
    async run(container, _values, positionals, io) {
      const { client, secret } = await container.clients.rotateSecret(requirePositional(positionals, 'client_id'), actor);
      print(io, clientJson(client, secret), (c) => `${describe(c)}\n\nStore the secret now: it is not shown again.`);
    },
  },
};
