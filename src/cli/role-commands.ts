import type { Role } from '../rbac/role.entity.js';
import type { RoleHolder } from '../rbac/rbac-service.js';
import { describeRecord, print, requirePositional, requireString, UsageError, type CliCommand, type OptionValues } from './cli-command.js';

const actor = 'cli';

const roleJson = (role: Role) => ({ id: role.id, name: role.name, description: role.description, created_at: role.createdAt });

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
    summary: 'list roles and their permissions',
    async run(container, _values, _positionals, io) {
      const roles = (await container.rbac.list()).map((role) => ({ ...roleJson(role), permissions: role.permissions }));
      print(io, roles, (all) => all.map((r) => `${r.name}${r.description ? `  (${r.description})` : ''}${r.permissions.map((p) => `\n  ${p.api}  ${p.permission}`).join('')}`).join('\n') || 'no roles');
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
