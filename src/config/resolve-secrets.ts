import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
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
    stored = JSON.parse(readFileSync(file, 'utf8')) as DevSecrets;
  } else {
    stored = { cookieKeys: [randomBytes(32).toString('base64url')], encryptionKey: randomBytes(32).toString('base64url') };
    mkdirSync(config.dataDir, { recursive: true });
    writeFileSync(file, JSON.stringify(stored, null, 2), { mode: 0o600 });
  }
  warn(`using development secrets from ${file}; set PORTCULLIS_COOKIE_KEYS and PORTCULLIS_ENCRYPTION_KEY for production`);
  return {
    // Where secrets are generated, so is an audit checkpoint key (development only).
    ...withDevCheckpointKey(config),
    secrets: { cookieKeys: cookieKeys?.length ? cookieKeys : stored.cookieKeys, encryptionKey: encryptionKey ?? stored.encryptionKey },
  };
}
