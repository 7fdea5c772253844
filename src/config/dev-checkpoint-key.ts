import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../infra/atomic-file.js';
import type { Config } from './schema.js';

/**
 * Development only: an Ed25519 audit checkpoint key generated once into DATA_DIR (never the
 * database), so `npm start` anchors its audit chain too. Test and production use only a configured key.
 */
export function withDevCheckpointKey<C extends Config>(config: C): C {
  if (config.nodeEnv !== 'development' || config.audit.checkpoint.key) return config;
  const file = path.join(config.dataDir, 'audit-checkpoint-key.pem');
  let key: string;
  try {
    key = readFileSync(file, 'utf8');
  } catch {
    mkdirSync(config.dataDir, { recursive: true });
    const { privateKey } = generateKeyPairSync('ed25519', {
      privateKeyEncoding: { format: 'pem', type: 'pkcs8' }, publicKeyEncoding: { format: 'pem', type: 'spki' },
    });
    try {
      writeFileAtomic(file, privateKey, 0o600, { exclusive: true });
      key = privateKey;
    } catch {
      key = readFileSync(file, 'utf8'); // another process wrote it first
    }
  }
  return { ...config, audit: { ...config.audit, checkpoint: { ...config.audit.checkpoint, key } } };
}
