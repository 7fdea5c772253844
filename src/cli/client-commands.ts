import { clientTypes, type ClientType } from '../clients/client.entity.js';
import type { ClientView } from '../clients/client-service.js';
import { describeRecord, print, requirePositional, requireString, stringList, UsageError, type CliCommand } from './cli-command.js';

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
} as const;

export const clientCommands: Record<string, CliCommand> = {
  create: {
    summary: 'register a client; prints its secret once (web and service)',
    usage: '--name N --type web|spa|native|service [--redirect-uri U]... [--post-logout-redirect-uri U]... [--first-party] [--allow-unverified-email] [--require-mfa]',
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
    summary: 'change name, redirect URIs, first-party or unverified-email flags (lists given replace the old ones)',
    usage: '<client_id> [--name N] [--redirect-uri U]... [--post-logout-redirect-uri U]... [--first-party|--no-first-party] [--allow-unverified-email|--no-allow-unverified-email] [--require-mfa|--no-require-mfa]',
    options: { ...editOptions, 'no-first-party': { type: 'boolean' }, 'no-allow-unverified-email': { type: 'boolean' }, 'no-require-mfa': { type: 'boolean' } },
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
