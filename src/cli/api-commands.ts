import type { RegisteredApi } from '../apis/api-registry.js';
import type { ApiChanges } from '../apis/api-schema.js';
import { describeRecord, print, requirePositional, requireString, stringList, UsageError, type CliCommand, type OptionValues } from './cli-command.js';

const actor = 'cli';

function apiJson(api: RegisteredApi) {
  return {
    identifier: api.identifier,
    name: api.name,
    scopes: api.scopes,
    access_token_ttl: api.accessTokenTtl,
    rbac: api.rbac,
    privileged: api.privileged,
    source: api.source,
    created_at: api.createdAt,
    updated_at: api.updatedAt,
  };
}

const describe = (api: ReturnType<typeof apiJson>) => describeRecord(api);

/** `--ttl` in whole seconds; the registry checks the range. */
function ttlOption(values: OptionValues): number | undefined {
  const raw = values.ttl;
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string' || !/^\d+$/.test(raw)) throw new UsageError('--ttl must be a whole number of seconds');
  return Number(raw);
}

/** The new scope list of an update: --scope replaces it, --add-scope and --remove-scope edit it. */
function scopeChanges(values: OptionValues, current: () => Promise<string[]>): Promise<string[] | undefined> | undefined {
  const replace = stringList(values, 'scope');
  const add = stringList(values, 'add-scope') ?? [];
  const remove = stringList(values, 'remove-scope') ?? [];
  if (replace && (add.length || remove.length)) throw new UsageError('give either --scope (the whole list) or --add-scope/--remove-scope, not both');
  if (replace) return Promise.resolve(replace);
  if (!add.length && !remove.length) return undefined;
  return current().then((scopes) => [...new Set([...scopes, ...add])].filter((scope) => !remove.includes(scope)));
}

export const apiCommands: Record<string, CliCommand> = {
  list: {
    summary: 'list APIs (resource indicators): built-in, from config, and registered',
    async run(container, _values, _positionals, io) {
      const apis = (await container.apis.list()).map(apiJson);
      const line = (api: ReturnType<typeof apiJson>) => [api.identifier, api.source, ...(api.rbac ? ['rbac'] : []),
        ...(api.privileged ? ['privileged'] : []), api.scopes.join(' ') || '(no scopes)'].join('  ');
      print(io, apis, (all) => all.map(line).join('\n') || 'no APIs');
    },
  },
  show: {
    summary: 'show one API',
    usage: '<identifier>',
    async run(container, _values, positionals, io) {
      print(io, apiJson(await container.apis.show(requirePositional(positionals, 'identifier'))), describe);
    },
  },
  create: {
    summary: 'register an API clients can ask tokens for (resource=<identifier>)',
    usage: '--identifier <URI> --name <name> [--scope <scope>]… [--ttl <seconds>] [--rbac] [--privileged]',
    options: {
      identifier: { type: 'string' }, name: { type: 'string' }, scope: { type: 'string', multiple: true },
      ttl: { type: 'string' }, rbac: { type: 'boolean' },
      privileged: { type: 'boolean' },
    },
    async run(container, values, _positionals, io) {
      const api = await container.apis.create({
        identifier: requireString(values, 'identifier'),
        name: requireString(values, 'name'),
        scopes: stringList(values, 'scope') ?? [],
        accessTokenTtl: ttlOption(values),
        rbac: values.rbac === true,
        privileged: values.privileged === true,
      }, actor);
      print(io, apiJson(api), describe);
    },
  },
  update: {
    summary: 'change a registered API (config and built-in APIs are read-only)',
    usage: '<identifier> [--name <name>] [--scope <scope>]… | [--add-scope <scope>]… [--remove-scope <scope>]…'
      + ' [--ttl <seconds>] [--rbac | --no-rbac]'
      + ' [--privileged | --no-privileged]',
    options: {
      name: { type: 'string' }, scope: { type: 'string', multiple: true }, 'add-scope': { type: 'string', multiple: true },
      'remove-scope': { type: 'string', multiple: true }, ttl: { type: 'string' }, rbac: { type: 'boolean' }, 'no-rbac': { type: 'boolean' },
      privileged: { type: 'boolean' }, 'no-privileged': { type: 'boolean' },
    },
    async run(container, values, positionals, io) {
      const identifier = requirePositional(positionals, 'identifier');
      if (values.rbac && values['no-rbac']) throw new UsageError('give either --rbac or --no-rbac');
      if (values.privileged && values['no-privileged']) {
        throw new UsageError('give either --privileged or --no-privileged');
      }
      const changes: ApiChanges = {
        ...(typeof values.name === 'string' ? { name: values.name } : {}),
        ...(values.ttl !== undefined ? { accessTokenTtl: ttlOption(values) } : {}),
        ...(values.rbac ? { rbac: true } : values['no-rbac'] ? { rbac: false } : {}),
        ...(values.privileged ? { privileged: true } : values['no-privileged'] ? { privileged: false } : {}),
      };
      const scopes = await scopeChanges(values, async () => (await container.apis.show(identifier)).scopes);
      if (scopes) changes.scopes = scopes;
      if (!Object.keys(changes).length) {
        throw new UsageError('nothing to change: give --name, --scope, --add-scope, --remove-scope, --ttl, --rbac, '
          + '--no-rbac, --privileged or --no-privileged');
      }
      print(io, apiJson(await container.apis.update(identifier, changes, actor)), describe);
    },
  },
  delete: {
    summary: 'delete a registered API (refused while roles or API keys use it)',
    usage: '<identifier>',
    async run(container, _values, positionals, io) {
      const identifier = requirePositional(positionals, 'identifier');
      await container.apis.delete(identifier, actor);
      print(io, { identifier, deleted: true }, () => `deleted API ${identifier}`);
    },
  },
};
