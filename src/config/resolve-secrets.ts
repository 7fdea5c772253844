import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../infra/atomic-file.js';
import { withDevCheckpointKey } from './dev-checkpoint-key.js';
import { ConfigError } from './load-config.js';
import type { Config, ResolvedConfig } from './schema.js';

interface DevSecrets { cookieKeys: string[]; encryptionKey: string }

/** Production refuses what is only safe on a laptop; this names each refusal. */
export function assertProductionSafe(config: Config): void {
  if (config.nodeEnv !== 'production') return;
  const problems: string[] = [];
  if (!config.issuer.startsWith('https://')) problems.push('issuer: production requires an https issuer');
  if (!config.secrets.cookieKeys?.length) problems.push('secrets.cookieKeys: production requires cookie keys (PORTCULLIS_COOKIE_KEYS)');
  if (!config.secrets.encryptionKey) problems.push('secrets.encryptionKey: production requires an encryption key (PORTCULLIS_ENCRYPTION_KEY)');
  if (!config.databaseUrl) problems.push('databaseUrl: production refuses the embedded database; set DATABASE_URL');
  if (!config.smtpUrl) problems.push('smtpUrl: production needs SMTP_URL; the development outbox logs one-time links');
  if (problems.length) throw new ConfigError(problems);
}

/** The stored development secrets; a damaged file stops start-up with what to do, never a JSON stack. */
function readStoredSecrets(file: string): DevSecrets {
  const damaged = (why: string) => new ConfigError([`${file}: ${why}. Restore it from a backup; only if nothing `
    + 'encrypted with it matters (a throw-away development database), delete it and DATA_DIR/postgres '
    + 'to start afresh']);
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    throw damaged('is empty or not valid JSON');
  }
  const { cookieKeys, encryptionKey } = (parsed ?? {}) as Partial<DevSecrets>;
  const validKeys = Array.isArray(cookieKeys) && cookieKeys.length > 0
    && cookieKeys.every((key) => typeof key === 'string' && key.length >= 32);
  if (!validKeys || typeof encryptionKey !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(encryptionKey)) {
    throw damaged('does not hold cookieKeys and an encryptionKey');
  }
  return { cookieKeys, encryptionKey };
}

/**
 * Fills missing secrets. Outside production they are generated once and kept in
 * DATA_DIR/secrets.json so restarts keep sessions and encrypted data readable.
 */
export function resolveSecrets(config: Config, warn: (message: string) => void): ResolvedConfig {
  assertProductionSafe(config);
  const { cookieKeys, encryptionKey } = config.secrets;
  if (cookieKeys?.length && encryptionKey) return { ...config, secrets: { cookieKeys, encryptionKey } };

  const file = path.join(config.dataDir, 'secrets.json');
  let stored: DevSecrets;
  if (existsSync(file)) {
    stored = readStoredSecrets(file);
  } else {
    stored = { cookieKeys: [randomBytes(32).toString('base64url')], encryptionKey: randomBytes(32).toString('base64url') };
    mkdirSync(config.dataDir, { recursive: true });
    writeFileAtomic(file, JSON.stringify(stored, null, 2));
  }
  warn(`using development secrets from ${file}; set PORTCULLIS_COOKIE_KEYS and PORTCULLIS_ENCRYPTION_KEY for production`);
  return {
    // Where secrets are generated, so is an audit checkpoint key (development only).
    ...withDevCheckpointKey(config),
    secrets: { cookieKeys: cookieKeys?.length ? cookieKeys : stored.cookieKeys, encryptionKey: encryptionKey ?? stored.encryptionKey },
  };
}
