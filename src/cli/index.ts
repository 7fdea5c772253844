import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load-config.js';
import { resolveSecrets } from '../config/resolve-secrets.js';
import { createContainer } from '../container.js';
import { createLogger } from '../infra/logger.js';
import { safeErrorMessage } from '../infra/safe-error.js';
import { apiCommands } from './api-commands.js';
import { apiKeyCommands } from './api-key-commands.js';
import { auditCommands } from './audit-commands.js';
import { UsageError, type CliCommand, type CliIo } from './cli-command.js';
import { clientCommands } from './client-commands.js';
import { keyCommands } from './key-commands.js';
import { outboxCommands } from './outbox-commands.js';
import { roleCommands } from './role-commands.js';
import { seedCommand } from './seed-commands.js';
import { userCommands } from './user-commands.js';

const groups: Record<string, Record<string, CliCommand>> = {
  clients: clientCommands,
  users: userCommands,
  roles: roleCommands,
  keys: keyCommands,
  apis: apiCommands,
  'api-keys': apiKeyCommands,
  audit: auditCommands,
  outbox: outboxCommands,
};

const migrate: CliCommand = {
  summary: 'apply pending database migrations',
  async run(_container, _values, _positionals, io) {
    // createContainer already applied them; report what the schema is at now.
    io.out(io.json ? JSON.stringify({ migrated: true }) : 'database schema is up to date');
  },
};

function help(): string {
  const lines = ['usage: portcullis <group> <command> [options] [--json]', '', '  migrate                 apply pending database migrations', `  seed                    ${seedCommand.summary}\n                          ${seedCommand.usage}`];
  for (const [group, commands] of Object.entries(groups)) {
    for (const [name, command] of Object.entries(commands)) {
      lines.push(`  ${`${group} ${name}`.padEnd(24)}${command.summary}${command.usage ? `\n  ${''.padEnd(24)}${command.usage}` : ''}`);
    }
  }
  return lines.join('\n');
}

function find(argv: string[]): { command: CliCommand; rest: string[]; isMigrate: boolean } {
  const [group, name, ...rest] = argv;
  if (group === 'migrate') return { command: migrate, rest: argv.slice(1), isMigrate: true };
  if (group === 'seed') return { command: seedCommand, rest: argv.slice(1), isMigrate: false };
  const commands = group ? groups[group] : undefined;
  if (!commands) throw new UsageError(group ? `unknown command group "${group}" (try --help)` : 'missing command (try --help)');
  const command = name ? commands[name] : undefined;
  if (!command) throw new UsageError(`unknown command "${group} ${name ?? ''}"; one of: ${Object.keys(commands).join(', ')}`);
  return { command, rest, isMigrate: false };
}

export interface CliOptions {
  env?: Record<string, string | undefined>;
  stdin?: AsyncIterable<Buffer | string>;
  write?: (text: string) => void;
  writeError?: (text: string) => void;
}

async function readAll(stream: AsyncIterable<Buffer | string>): Promise<string> {
  let text = '';
  for await (const chunk of stream) text += chunk.toString();
  return text;
}

/** Runs one CLI command and returns the exit code: 0 ok, 1 failed, 2 bad input. */
export async function runCli(argv: string[], options: CliOptions = {}): Promise<number> {
  const write = options.write ?? ((text) => process.stdout.write(`${text}\n`));
  const writeError = options.writeError ?? ((text) => process.stderr.write(`${text}\n`));
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === 'help') {
    write(help());
    return argv.length === 0 ? 2 : 0;
  }
  let container: Awaited<ReturnType<typeof createContainer>> | undefined;
  try {
    const { command, rest, isMigrate } = find(argv);
    const { values, positionals } = parseArgs({ args: rest, options: { ...command.options, json: { type: 'boolean' } }, allowPositionals: true, strict: true });
    const io: CliIo = { json: values.json === true, out: write, readStdin: () => readAll(options.stdin ?? process.stdin) };
    const baseConfig = loadConfig({ env: options.env });
    const logger = createLogger(['info', 'warn'].includes(baseConfig.logLevel) ? 'error' : baseConfig.logLevel, 2);
    const config = resolveSecrets(baseConfig, (message) => logger.debug(message));
    container = await createContainer(config, logger, {
      migrate: isMigrate || config.nodeEnv !== 'production', redis: false, unboundedStatements: true,
    });
    const code = await command.run(container, values, positionals, io);
    return typeof code === 'number' ? code : 0;
  } catch (error) {
    const known = error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    const expose = known || (error as { expose?: boolean }).expose === true || (error as Error).name === 'ConfigError';
    // An unexpected error (a driver's, say) is described without its parameters (src/infra/safe-error.ts).
    const said = expose ? (error as Error).message : safeErrorMessage(error);
    const message = said.replace(/\. To specify a positional.*$/s, '').replace(/:\n\s*/, ': ').replace(/\n\s*/g, '; ');
    writeError(`portcullis: ${expose ? message : `failed: ${message}`}`);
    return known ? 2 : 1;
  } finally {
    await container?.close();
  }
}
