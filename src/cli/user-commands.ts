import type { AccountView } from '../accounts/account-service.js';
import { createLoginThrottleFor } from '../accounts/login-throttle.js';
import { NotFoundError } from '../errors/app-error.js';
import { createRedis } from '../infra/redis.js';
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { describeRecord, print, requirePositional, requireString, stringList, UsageError, type CliCommand } from './cli-command.js';

const actor = 'cli';

function userJson(account: AccountView) {
  return {
    id: account.id, email: account.email, email_verified: account.emailVerified, name: account.name,
    roles: account.roles, disabled: account.disabledAt !== null, mfa_required: account.mfaRequired, created_at: account.createdAt,
  };
}

const describe = (user: ReturnType<typeof userJson>) => describeRecord(user);

const importLine = z.object({
  email: z.string(),
  password_hash: z.string(),
  name: z.string().optional(),
  email_verified: z.boolean().optional(),
});

export const userCommands: Record<string, CliCommand> = {
  import: {
    summary: 'import accounts from JSON lines {email, password_hash, name?, email_verified?}; all or nothing',
    usage: '<file.jsonl>',
    async run(container, _values, positionals, io) {
      const file = requirePositional(positionals, 'file.jsonl');
      const text = await readFile(file, 'utf8').catch(() => { throw new UsageError(`cannot read ${file}`); });
      const records = text.split('\n').map((line, index) => [line.trim(), index + 1] as const).filter(([line]) => line).map(([line, number]) => {
        let parsed: unknown;
        try { parsed = JSON.parse(line); } catch { throw new UsageError(`line ${number}: not JSON`); }
        const result = importLine.safeParse(parsed);
        if (!result.success) throw new UsageError(`line ${number}: ${result.error.issues[0]!.path.join('.') || 'record'}: ${result.error.issues[0]!.message}`);
        return { email: result.data.email, passwordHash: result.data.password_hash, name: result.data.name, emailVerified: result.data.email_verified };
      });
      const imported = await container.accounts.importAccounts(records, actor);
      print(io, { imported }, ({ imported: count }) => `imported ${count} accounts`);
    },
  },
  create: {
    summary: 'create an account; the password is read from standard input',
    usage: '--email E --password-stdin [--name N] [--verified] [--role R]...',
    options: { email: { type: 'string' }, name: { type: 'string' }, 'password-stdin': { type: 'boolean' }, verified: { type: 'boolean' }, role: { type: 'string', multiple: true } },
    async run(container, values, _positionals, io) {
      const email = requireString(values, 'email');
      if (values['password-stdin'] !== true) throw new UsageError('--password-stdin is required: pass the password on standard input, never as an argument');
      const password = (await io.readStdin()).replace(/\r?\n$/, '');
      if (!password) throw new UsageError('no password on standard input');
      const account = await container.accounts.create({
        email, password, name: typeof values.name === 'string' ? values.name : undefined,
        verified: values.verified === true, roles: stringList(values, 'role'),
      }, actor);
      print(io, userJson(account), describe);
    },
  },
  list: {
    summary: 'list accounts by email',
    usage: '[--limit N] [--after EMAIL]',
    options: { limit: { type: 'string' }, after: { type: 'string' } },
    async run(container, values, _positionals, io) {
      const limit = values.limit === undefined ? 100 : Number(values.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new UsageError('--limit must be a whole number from 1 to 1000');
      const users = (await container.accounts.list(limit, typeof values.after === 'string' ? values.after : undefined)).map(userJson);
      print(io, users, (all) => all.map((u) => `${u.id}  ${u.email}${u.disabled ? '  (disabled)' : ''}`).join('\n') || 'no accounts');
    },
  },
  'reset-mfa': {
    summary: 'remove every second factor and recovery code of an account (it enrols again if a policy requires one)',
    usage: '<id|email>',
    async run(container, _values, positionals, io) {
      const account = await container.accounts.show(requirePositional(positionals, 'id|email'));
      const removed = await container.mfa.reset(account.id, actor);
      await container.sessions.revokeAccount(account.id);
      print(io, { id: account.id, email: account.email, factors_removed: removed }, (r) => `removed ${r.factors_removed} factors of ${r.email}; its sessions were ended`);
    },
  },
  'end-sessions': {
    summary: 'sign an account out everywhere: ends its sessions and revokes their grants and refresh tokens',
    usage: '<id|email>',
    async run(container, _values, positionals, io) {
      const account = await container.accounts.show(requirePositional(positionals, 'id|email'));
      const ended = await container.sessionService.endAll(account.id, { actor });
      print(io, { id: account.id, email: account.email, sessions_ended: ended }, (r) => `ended ${r.sessions_ended} sessions of ${r.email}`);
    },
  },
  'require-mfa': {
    summary: 'make an account use a second factor at every sign-in (--off to stop)',
    usage: '<id|email> [--off]',
    options: { off: { type: 'boolean' } },
    async run(container, values, positionals, io) {
      const account = await container.accounts.setMfaRequired(requirePositional(positionals, 'id|email'), values.off !== true, actor);
      print(io, userJson(account), describe);
    },
  },
  show: {
    summary: 'show an account by id or email',
    usage: '<id|email>',
    async run(container, _values, positionals, io) {
      print(io, userJson(await container.accounts.show(requirePositional(positionals, 'id|email'))), describe);
    },
  },
  disable: {
    summary: 'disable an account: no sign-in, its sessions end and its tokens stop working',
    usage: '<id|email>',
    async run(container, _values, positionals, io) {
      const account = await container.accounts.setDisabled(requirePositional(positionals, 'id|email'), true, actor);
      await container.sessions.revokeAccount(account.id);
      print(io, userJson(account), describe);
    },
  },
  unlock: {
    summary: 'lift a sign-in lockout (temporary or permanent) and forget the failed attempts',
    usage: '<email>',
    async run(container, _values, positionals, io) {
      const email = requirePositional(positionals, 'email').trim();
      if (!email.includes('@')) throw new UsageError('<email> must be an email address: lockouts are kept by email');
      // The CLI container skips Redis, but the counters live there when REDIS_URL is set.
      const { config } = container;
      const redis = container.redis ?? (config.redisUrl ? createRedis(config.redisUrl, { keyPrefix: config.redis.keyPrefix }) : undefined);
      try {
        await createLoginThrottleFor({ redis, dataSource: container.dataSource, config }).unlock(email);
      } finally {
        if (redis && redis !== container.redis) await redis.quit().catch(() => redis.disconnect());
      }
      // Lockouts exist for unknown emails too; unlocking one is fine, and there is no account to audit.
      const account = await container.accounts.show(email).catch((error: unknown) => {
        if (error instanceof NotFoundError) return undefined;
        throw error;
      });
      if (account) await container.audit.record({ type: 'account.unlocked', actor, accountId: account.id });
      print(io, { email, unlocked: true }, () => `unlocked ${email}`);
    },
  },
  enable: {
    summary: 'enable a disabled account',
    usage: '<id|email>',
    async run(container, _values, positionals, io) {
      print(io, userJson(await container.accounts.setDisabled(requirePositional(positionals, 'id|email'), false, actor)), describe);
    },
  },
};
