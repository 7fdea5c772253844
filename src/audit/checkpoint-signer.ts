import { createHash } from 'node:crypto';
import {
  calculateJwkThumbprint, CompactSign, compactVerify, exportJWK, exportPKCS8, generateKeyPair, importJWK, importPKCS8,
  type CryptoKey, type JWK,
} from 'jose';

/** What a checkpoint attests: the chain through `lastEventId` ends in `lastHash` and holds `count` events. */
export interface CheckpointPayload {
  typ: typeof CHECKPOINT_TYP;
  lastEventId: string;
  lastHash: string;
  count: number;
  createdAt: string;
  /** SHA-256 (hex) of the previous checkpoint's JWS, so a checkpoint removed from the middle shows. */
  prev: string | null;
}

export const CHECKPOINT_TYP = 'portcullis-audit-checkpoint';
const ALG = 'EdDSA';

export interface CheckpointSigner {
  /** RFC 7638 thumbprint of the public key; stored with each checkpoint. */
  kid: string;
  /** The public key as a JWK, for verifiers elsewhere. */
  publicJwk: JWK;
  sign(payload: CheckpointPayload): Promise<string>;
  /** The payload of a JWS this key signed; throws (jose's JWSSignatureVerificationFailed …) otherwise. */
  verify(jws: string): Promise<CheckpointPayload>;
}

/** Thrown when the configured key is not an Ed25519 private key. */
export class CheckpointKeyError extends Error {
  constructor() {
    super('audit.checkpoint.key: not an Ed25519 private key (PKCS#8 PEM or a JWK with "d")');
    this.name = 'ConfigError';
  }
}

async function importPrivate(text: string): Promise<CryptoKey> {
  const trimmed = text.trim();
  try {
    if (trimmed.startsWith('{')) {
      const jwk = JSON.parse(trimmed) as JWK;
      if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || !jwk.d) throw new CheckpointKeyError();
      return await importJWK(jwk, ALG, { extractable: true }) as CryptoKey;
    }
    // An environment variable may carry the PEM's line breaks as literal "\n".
    return await importPKCS8(trimmed.replace(/\\n/g, '\n'), ALG, { extractable: true });
  } catch {
    throw new CheckpointKeyError();
  }
}

/** SHA-256 hex of a checkpoint's JWS: the `prev` link of the next one. */
export function checkpointDigest(jws: string): string {
  return createHash('sha256').update(jws).digest('hex');
}

/** A signer (and verifier) over the configured Ed25519 private key; the public key is derived from it. */
export async function createCheckpointSigner(keyText: string): Promise<CheckpointSigner> {
  const privateKey = await importPrivate(keyText);
  const { d: _d, ...publicJwk } = await exportJWK(privateKey);
  if (publicJwk.crv !== 'Ed25519') throw new CheckpointKeyError();
  const publicKey = await importJWK(publicJwk, ALG);
  const kid = await calculateJwkThumbprint(publicJwk);
  return {
    kid,
    publicJwk: { ...publicJwk, kid, alg: ALG, use: 'sig' },
    sign(payload) {
      return new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
        .setProtectedHeader({ alg: ALG, kid, typ: CHECKPOINT_TYP })
        .sign(privateKey);
    },
    async verify(jws) {
      const { payload, protectedHeader } = await compactVerify(jws, publicKey, { algorithms: [ALG] });
      if (protectedHeader.typ !== CHECKPOINT_TYP) throw new Error('not an audit checkpoint');
      const parsed = JSON.parse(new TextDecoder().decode(payload)) as CheckpointPayload;
      if (parsed.typ !== CHECKPOINT_TYP) throw new Error('not an audit checkpoint');
      return parsed;
    },
  };
}

/**
 * A new Ed25519 key pair for `audit.checkpoint.key`: the private key as PKCS#8 PEM and as a JWK,
 * and the public JWK.
 */
export async function generateCheckpointKey(): Promise<{ privateKeyPem: string; privateJwk: JWK; publicJwk: JWK }> {
  const { privateKey, publicKey } = await generateKeyPair(ALG, { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  return {
    privateKeyPem: await exportPKCS8(privateKey),
    privateJwk: { ...(await exportJWK(privateKey)), kid },
    publicJwk: { ...publicJwk, kid },
  };
}
