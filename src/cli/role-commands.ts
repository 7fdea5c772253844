import type { Role } from '../rbac/role.entity.js';
import type { RoleDetail, RoleHolder, RoleHolders } from '../rbac/rbac-service.js';
import { describeRecord, print, requirePositional, requireString, stringList, UsageError, type CliCommand, type OptionValues } from './cli-command.js';

const actor = 'cli';

const roleJson = (role: Role) => ({ id: role.id, name: role.name, description: role.description, created_at: role.createdAt });
/** A role with its permissions grouped per API and its holder counts, as `show`, `update` and `set-permissions` print it. */
const detailJson = (role: RoleDetail) => ({ ...roleJson(role), permissions: role.permissions, holders: role.holders });
const holdersJson = (holders: RoleHolders) => ({
  accounts: holders.accounts.map((account) => ({ id: account.id, email: account.email, name: account.name, disabled: account.disabledAt !== null })),
  clients: holders.clients.map((client) => ({ client_id: client.clientId, name: client.name, type: client.type })),
  next_after: holders.next ?? null,
});

/** For people: name, description, permissions per API and holder counts, one per line. */
function describeDetail(role: ReturnType<typeof detailJson>): string {
  const permissions = role.permissions.map((entry) => `\n  ${entry.api}  ${entry.permissions.join(' ')}`).join('') || ' none';
  return `name: ${role.name}\ndescription: ${role.description ?? ''}\ncreated_at: ${role.created_at.toISOString()}\npermissions:${permissions}`
    + `\nholders: ${role.holders.accounts} accounts, ${role.holders.clients} clients`;
}

/** --limit for a page of holders: 1-1000, default 100. */
function holderLimit(values: OptionValues): number {
  const limit = values.limit === undefined ? 100 : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new UsageError('--limit must be a whole number from 1 to 1000');
  return limit;
}

/** Exactly one of --account or --client. */
function holderOf(values: OptionValues): RoleHolder {
  const account = typeof values.account === 'string' ? values.account.trim() : '';
  const client = typeof values.client === 'string' ? values.client.trim() : '';
  if (Boolean(account) === Boolean(client)) throw new UsageError('give exactly one of --account <id|email> or --client <client_id>');
  return account ? { account } : { client };
}

const holderName = (holder: RoleHolder) => ('account' in holder ? `account ${holder.account}` : `client ${holder.client}`);
const holderJson = (holder: RoleHolder) => ('account' in holder ? { account: holder.account } : { client_id: holder.client });

const permissionOptions = { api: { type: 'string' }, permission: { type: 'string' } } as const;
const holderOptions = { account: { type: 'string' }, client: { type: 'string' } } as const;

export const roleCommands: Record<string, CliCommand> = {
  create: {
    summary: 'create a role (a-z, 0-9, _ . -; starts with a letter)',
    usage: '<name> [--description D]',
    options: { description: { type: 'string' } },
    async run(container, values, positionals, io) {
      const description = typeof values.description === 'string' ? values.description : undefined;
      const role = await container.rbac.create(requirePositional(positionals, 'name'), description, actor);
      print(io, roleJson(role), describeRecord);
    },
  },
  list: {
    summary: 'list roles, their permissions and how many accounts and clients hold each',
    async run(container, _values, _positionals, io) {
      // Permissions stay one row per (api, permission) here, as they always were; `show` groups them per API.
      const roles = (await container.rbac.overview()).map((role) => ({
        ...roleJson(role), permissions: role.permissions.flatMap((entry) => entry.permissions.map((permission) => ({ api: entry.api, permission }))), holders: role.holders,
      }));
      print(io, roles, (all) => all.map((r) => `${r.name}${r.description ? `  (${r.description})` : ''}  [${r.holders.accounts} accounts, ${r.holders.clients} clients]${r.permissions.map((p) => `\n  ${p.api}  ${p.permission}`).join('')}`).join('\n') || 'no roles');
    },
  },
  show: {
    summary: 'show a role: description, permissions per API, and its holders (accounts by email, a page at a time, and clients)',
    usage: '<name> [--limit N] [--after EMAIL]',
    options: { limit: { type: 'string' }, after: { type: 'string' } },
    async run(container, values, positionals, io) {
      const name = requirePositional(positionals, 'name');
      const limit = holderLimit(values);
      const role = await container.rbac.show(name);
      const holders = await container.rbac.holders(role.name, { limit, after: typeof values.after === 'string' ? values.after : undefined });
      print(io, { ...detailJson(role), ...holdersJson(holders) }, (shown) => [
        describeDetail(shown),
        `accounts:${shown.accounts.map((a) => `\n  ${a.id}  ${a.email}${a.disabled ? '  (disabled)' : ''}`).join('') || ' none'}`,
        `clients:${shown.clients.map((c) => `\n  ${c.client_id}  ${c.name}`).join('') || ' none'}`,
        ...(shown.next_after ? [`more accounts: --after ${shown.next_after}`] : []),
      ].join('\n'));
    },
  },
  update: {
    summary: 'change a role\'s description (--description "" clears it)',
    usage: '<name> --description D',
    options: { description: { type: 'string' } },
    async run(container, values, positionals, io) {
      const name = requirePositional(positionals, 'name');
      if (typeof values.description !== 'string') throw new UsageError('--description is required (--description "" clears it)');
      const role = await container.rbac.update(name, { description: values.description }, actor);
      print(io, detailJson(role), describeDetail);
    },
  },
  'set-permissions': {
    summary: 'replace a role\'s permissions on one API with exactly these scopes; --none removes them all',
    usage: '<name> --api <identifier> (--permission <scope> [--permission <scope>]... | --none)',
    options: { api: { type: 'string' }, permission: { type: 'string', multiple: true }, none: { type: 'boolean' } },
    async run(container, values, positionals, io) {
      const [name, api] = [requirePositional(positionals, 'name'), requireString(values, 'api')];
      const permissions = stringList(values, 'permission') ?? [];
      if (Boolean(permissions.length) === (values.none === true)) throw new UsageError('give --permission <scope> (one or more) or --none');
      const role = await container.rbac.setPermissions(name, api, permissions, actor);
      const held = role.permissions.find((entry) => entry.api === api)?.permissions ?? [];
      print(io, detailJson(role), () => (held.length ? `${role.name} may ${held.join(' ')} on ${api}` : `${role.name} has no permissions on ${api}`));
    },
  },
  delete: {
    summary: 'delete a role, its permissions and its assignments',
    usage: '<name>',
    async run(container, _values, positionals, io) {
      const name = requirePositional(positionals, 'name');
      await container.rbac.delete(name, actor);
      print(io, { name, deleted: true }, () => `deleted role ${name}`);
    },
  },
  grant: {
    summary: 'let a role hold a permission: one of the scopes a registered API declares',
    usage: '<name> --api <identifier> --permission <scope>',
    options: permissionOptions,
    async run(container, values, positionals, io) {
      const [name, api, permission] = [requirePositional(positionals, 'name'), requireString(values, 'api'), requireString(values, 'permission')];
      const changed = await container.rbac.grant(name, api, permission, actor);
      print(io, { name, api, permission, granted: true, changed }, () => `${name} may ${permission} on ${api}${changed ? '' : ' (already)'}`);
    },
  },
  revoke: {
    summary: 'take a permission from a role',
    usage: '<name> --api <identifier> --permission <scope>',
    options: permissionOptions,
    async run(container, values, positionals, io) {
      const [name, api, permission] = [requirePositional(positionals, 'name'), requireString(values, 'api'), requireString(values, 'permission')];
      const changed = await container.rbac.revoke(name, api, permission, actor);
      print(io, { name, api, permission, granted: false, changed }, () => `${name} may not ${permission} on ${api}${changed ? '' : ' (it could not)'}`);
    },
  },
  assign: {
    summary: 'give a role to an account or a service client',
    usage: '<name> (--account <id|email> | --client <client_id>)',
    options: holderOptions,
    async run(container, values, positionals, io) {
      const name = requirePositional(positionals, 'name');
      const holder = holderOf(values);
      await container.rbac.assign(name, holder, actor);
      print(io, { name, ...holderJson(holder), assigned: true }, () => `${holderName(holder)} has role ${name}`);
    },
  },
  unassign: {
    summary: 'take a role from an account or a service client',
    usage: '<name> (--account <id|email> | --client <client_id>)',
    options: holderOptions,
    async run(container, values, positionals, io) {
      const name = requirePositional(positionals, 'name');
      const holder = holderOf(values);
      const changed = await container.rbac.unassign(name, holder, actor);
      print(io, { name, ...holderJson(holder), assigned: false, changed }, () => `${holderName(holder)} does not have role ${name}${changed ? '' : ' (it did not)'}`);
    },
  },
};
