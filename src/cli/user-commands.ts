import type { AccountView } from '../accounts/account-service.js';
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { emailSearchKey } from '../identifiers/canonical-email.js';
import { apiEmailField } from '../identifiers/email-field.js';
import { describeRecord, print, requirePositional, requireString, stringList, UsageError, type CliCommand } from './cli-command.js';

const actor = 'cli';
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function userJson(account: AccountView) {
  return {
    id: account.id, email: account.email, email_verified: account.emailVerified, name: account.name,
    roles: account.roles, disabled: account.disabledAt !== null, mfa_required: account.mfaRequired, created_at: account.createdAt,
  };
}

const describe = (user: ReturnType<typeof userJson>) => describeRecord(user);

const importLine = z.object({
  email: apiEmailField(),
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
    summary: 'list accounts by email; --search keeps those whose email begins with the text',
    usage: '[--limit N] [--after EMAIL] [--search TEXT]',
    options: { limit: { type: 'string' }, after: { type: 'string' }, search: { type: 'string' } },
    async run(container, values, _positionals, io) {
      const limit = values.limit === undefined ? 100 : Number(values.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new UsageError('--limit must be a whole number from 1 to 1000');
      const search = typeof values.search === 'string' ? emailSearchKey(values.search) : undefined;
      const after = typeof values.after === 'string' ? values.after : search;
      // Emails are listed in order, so the matches of a search start right after its text.
      const users = (await container.accounts.list(limit, after))
        .filter((user) => !search || user.emailCanonical.startsWith(search)).map(userJson);
      print(io, users, (all) => all.map((u) => `${u.id}  ${u.email}${u.disabled ? '  (disabled)' : ''}`).join('\n') || 'no accounts');
    },
  },
  'reset-mfa': {
    summary: 'remove every second factor and recovery code of an account (it enrols again if a policy requires one)',
    usage: '<id|email>',
    async run(container, _values, positionals, io) {
      const { account, factorsRemoved } = await container.accountAdmin.resetMfa(requirePositional(positionals, 'id|email'), actor);
      print(io, { id: account.id, email: account.email, factors_removed: factorsRemoved }, (r) => `removed ${r.factors_removed} factors of ${r.email}; its sessions were ended`);
    },
  },
  'end-sessions': {
    summary: 'sign an account out everywhere: ends its sessions and revokes their grants and refresh tokens',
    usage: '<id|email>',
    async run(container, _values, positionals, io) {
      const { account, sessionsEnded } = await container.accountAdmin.endSessions(requirePositional(positionals, 'id|email'), actor);
      print(io, { id: account.id, email: account.email, sessions_ended: sessionsEnded }, (r) => `ended ${r.sessions_ended} sessions of ${r.email}`);
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
      print(io, userJson(await container.accountAdmin.disable(requirePositional(positionals, 'id|email'), actor)), describe);
    },
  },
  unlock: {
    summary: 'lift a sign-in lockout (temporary or permanent) and forget the failed attempts',
    usage: '<email|id>',
    async run(container, _values, positionals, io) {
      const ref = requirePositional(positionals, 'email').trim();
      if (uuidPattern.test(ref)) {
        const account = await container.accountAdmin.unlock(ref, actor);
        print(io, { email: account.email, unlocked: true }, () => `unlocked ${account.email}`);
        return;
      }
      if (!ref.includes('@')) throw new UsageError('<email> must be an email address (lockouts are kept by email) or an account id');
      // Lockouts exist for unknown emails too: unlocking one is fine, and there is no account to audit.
      await container.accountAdmin.unlockEmail(ref, actor);
      print(io, { email: ref, unlocked: true }, () => `unlocked ${ref}`);
    },
  },
  enable: {
    summary: 'enable a disabled account',
    usage: '<id|email>',
    async run(container, _values, positionals, io) {
      print(io, userJson(await container.accountAdmin.enable(requirePositional(positionals, 'id|email'), actor)), describe);
    },
  },
  'verify-email': {
    summary: 'mark an account\'s email address as verified',
    usage: '<id|email>',
    async run(container, _values, positionals, io) {
      print(io, userJson(await container.accountAdmin.verifyEmail(requirePositional(positionals, 'id|email'), actor)), describe);
    },
  },
  'set-roles': {
    summary: 'replace the roles of an account with exactly these (existing) roles; --none removes them all',
    usage: '<id|email> --role R [--role R]... | --none',
    options: { role: { type: 'string', multiple: true }, none: { type: 'boolean' } },
    async run(container, values, positionals, io) {
      const ref = requirePositional(positionals, 'id|email');
      const roles = stringList(values, 'role') ?? [];
      if (values.none === true && roles.length) throw new UsageError('--none and --role exclude each other');
      if (values.none !== true && !roles.length) throw new UsageError('--role is required (or --none to remove every role)');
      print(io, userJson(await container.accountAdmin.setRoles(ref, roles, actor)), describe);
    },
  },
  update: {
    summary: 'change an account\'s name (--name "" clears it) or whether it must use a second factor',
    usage: '<id|email> [--name N] [--mfa-required true|false]',
    options: { name: { type: 'string' }, 'mfa-required': { type: 'string' } },
    async run(container, values, positionals, io) {
      const ref = requirePositional(positionals, 'id|email');
      const mfa = values['mfa-required'];
      if (mfa !== undefined && mfa !== 'true' && mfa !== 'false') throw new UsageError('--mfa-required must be true or false');
      if (values.name === undefined && mfa === undefined) throw new UsageError('nothing to change: pass --name or --mfa-required');
      const changes = {
        ...(typeof values.name === 'string' ? { name: values.name } : {}),
        ...(mfa !== undefined ? { mfaRequired: mfa === 'true' } : {}),
      };
      print(io, userJson(await container.accountAdmin.update(ref, changes, actor)), describe);
    },
  },
  delete: {
    summary: 'delete an account for good: its sessions end, its factors, roles and API keys go with it',
    usage: '<id|email>',
    async run(container, _values, positionals, io) {
      const account = await container.accountAdmin.delete(requirePositional(positionals, 'id|email'), actor);
      print(io, { id: account.id, email: account.email, deleted: true }, (r) => `deleted ${r.email}`);
    },
  },
};
