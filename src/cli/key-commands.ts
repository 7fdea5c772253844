import type { PublishedKey } from '../keys/key-service.js';
import { print, requirePositional, type CliCommand } from './cli-command.js';

const keyJson = (key: PublishedKey) => ({
  kid: key.kid, alg: key.alg, status: key.status,
  activates_at: key.activatesAt, retired_at: key.retiredAt, expires_at: key.expiresAt,
});

export const keyCommands: Record<string, CliCommand> = {
  list: {
    summary: 'list published signing keys (signing, next, retired)',
    async run(container, _values, _positionals, io) {
      const keys = (await container.keys.list()).map(keyJson);
      print(io, keys, (all) => all.map((k) => `${k.kid}  ${k.alg}  ${k.status.padEnd(8)} activates ${k.activates_at.toISOString()}`).join('\n'));
    },
  },
  rotate: {
    summary: 'publish a new signing key; it signs after keys.publishLeadSeconds (or at once with --now)',
    usage: '[--now]',
    options: { now: { type: 'boolean' } },
    async run(container, values, _positionals, io) {
      const key = keyJson(await container.keys.rotate('cli', { immediate: values.now === true }));
      print(io, key, (k) => `new key ${k.kid} (${k.alg}) ${k.status === 'next' ? `published; signs from ${k.activates_at.toISOString()}` : 'signs now'}`);
    },
  },
  revoke: {
    summary: 'emergency: drop a key from JWKS at once (tokens it signed stop verifying); a revoked signing key is replaced immediately',
    usage: '<kid>',
    async run(container, _values, positionals, io) {
      const kid = requirePositional(positionals, 'kid');
      const keys = (await container.keys.revoke(kid, 'cli')).map(keyJson);
      print(io, { revoked: kid, keys }, (r) => `revoked ${r.revoked}; published now:\n${r.keys.map((k) => `${k.kid}  ${k.alg}  ${k.status}`).join('\n')}`);
    },
  },
};
