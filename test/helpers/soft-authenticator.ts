/**
 * A software WebAuthn authenticator for tests: ES256 keys from node:crypto, `none` attestation,
 * real CBOR and real signatures, so the server-side verification runs exactly as for a browser.
 * It answers the JSON a browser's @simplewebauthn/browser would POST (RegistrationResponseJSON,
 * AuthenticationResponseJSON). Knobs per authenticator (backup flags, user verification, whether it
 * counts) and per call (origin, counter, which credential) let tests build the bad cases too.
 */
import { createHash, createPublicKey, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import type {
  AuthenticationResponseJSON, PublicKeyCredentialCreationOptionsJSON, PublicKeyCredentialRequestOptionsJSON, RegistrationResponseJSON,
} from '@simplewebauthn/server';

// ---- a minimal CBOR encoder (RFC 8949): just the major types WebAuthn needs, shortest-form heads.
type Cbor = number | string | Uint8Array | Map<Cbor, Cbor>;

function head(major: number, length: number): Buffer {
  if (length < 24) return Buffer.from([(major << 5) | length]);
  if (length < 0x100) return Buffer.from([(major << 5) | 24, length]);
  if (length < 0x10000) { const b = Buffer.alloc(3); b[0] = (major << 5) | 25; b.writeUInt16BE(length, 1); return b; }
  const b = Buffer.alloc(5); b[0] = (major << 5) | 26; b.writeUInt32BE(length, 1); return b;
}

/** CBOR-encodes integers, text, byte strings and maps (insertion order, as COSE keys are written). */
export function cborEncode(value: Cbor): Buffer {
  if (typeof value === 'number') return value >= 0 ? head(0, value) : head(1, -1 - value);
  if (typeof value === 'string') { const bytes = Buffer.from(value, 'utf8'); return Buffer.concat([head(3, bytes.length), bytes]); }
  if (value instanceof Uint8Array) return Buffer.concat([head(2, value.length), value]);
  return Buffer.concat([head(5, value.size), ...[...value].flatMap(([k, v]) => [cborEncode(k), cborEncode(v)])]);
}

// ---- authenticator data flags (WebAuthn §6.1).
const UP = 0x01, UV = 0x04, BE = 0x08, BS = 0x10, AT = 0x40;

export interface SoftAuthenticatorOptions {
  /** Backup eligible (BE): a synced passkey rather than a device-bound key. */
  backupEligible?: boolean;
  /** Backed up (BS); only meaningful with backupEligible. */
  backedUp?: boolean;
  /** Sets UV (user verified, e.g. PIN or biometrics). Default true. */
  userVerification?: boolean;
  /** False for authenticators that always report a zero signature counter (most synced passkeys). */
  counts?: boolean;
  aaguid?: Uint8Array;
  transports?: string[];
}

export interface SoftCredential { id: Buffer; privateKey: KeyObject; rpId: string; userHandle: string; counter: number }

export interface CeremonyOverrides { origin?: string; type?: string; challenge?: string; rpId?: string }

const b64url = (bytes: Uint8Array | string) => Buffer.from(bytes).toString('base64url');
const sha256 = (data: Uint8Array | string) => createHash('sha256').update(data).digest();

/** One authenticator holding any number of credentials, like a security key or a phone's passkey store. */
export class SoftAuthenticator {
  readonly credentials: SoftCredential[] = [];
  constructor(readonly origin: string, readonly options: SoftAuthenticatorOptions = {}) {}

  private flags(extra: number): number {
    const o = this.options;
    return UP | extra | (o.userVerification === false ? 0 : UV) | (o.backupEligible ? BE : 0) | (o.backupEligible && o.backedUp ? BS : 0);
  }

  private authData(rpId: string, flags: number, counter: number, attested?: Buffer): Buffer {
    const count = Buffer.alloc(4);
    count.writeUInt32BE(counter);
    return Buffer.concat([sha256(rpId), Buffer.from([flags]), count, ...(attested ? [attested] : [])]);
  }

  private clientData(type: string, challenge: string, overrides: CeremonyOverrides): Buffer {
    return Buffer.from(JSON.stringify({ type: overrides.type ?? type, challenge: overrides.challenge ?? challenge, origin: overrides.origin ?? this.origin, crossOrigin: false }));
  }

  /**
   * navigator.credentials.create(): a new ES256 credential with a `none` attestation, or, with
   * `reuse`, the same credential again (what a broken or malicious client could send).
   */
  createCredential(options: PublicKeyCredentialCreationOptionsJSON, overrides: CeremonyOverrides & { reuse?: SoftCredential } = {}): RegistrationResponseJSON {
    const rpId = overrides.rpId ?? options.rp.id!;
    const privateKey = overrides.reuse?.privateKey ?? generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const jwk = createPublicKey(privateKey).export({ format: 'jwk' });
    // COSE_Key (RFC 9053 §7.1.1): kty EC2, alg ES256, crv P-256, x, y.
    const coseKey = cborEncode(new Map<Cbor, Cbor>([[1, 2], [3, -7], [-1, 1], [-2, Buffer.from(jwk.x!, 'base64url')], [-3, Buffer.from(jwk.y!, 'base64url')]]));
    const id = overrides.reuse?.id ?? randomBytes(32);
    const idLength = Buffer.alloc(2);
    idLength.writeUInt16BE(id.length);
    const attested = Buffer.concat([this.options.aaguid ?? Buffer.alloc(16), idLength, id, coseKey]);
    const counter = this.options.counts === false ? 0 : 1;
    const authData = this.authData(rpId, this.flags(AT), counter, attested);
    const attestationObject = cborEncode(new Map<Cbor, Cbor>([['fmt', 'none'], ['attStmt', new Map()], ['authData', authData]]));
    if (!overrides.reuse) this.credentials.push({ id, privateKey, rpId, userHandle: options.user.id, counter });
    return {
      id: b64url(id), rawId: b64url(id), type: 'public-key', clientExtensionResults: {},
      authenticatorAttachment: this.options.backupEligible ? 'platform' : 'cross-platform',
      response: {
        clientDataJSON: b64url(this.clientData('webauthn.create', options.challenge, overrides)),
        attestationObject: b64url(attestationObject),
        transports: this.options.transports ?? (this.options.backupEligible ? ['internal', 'hybrid'] : ['usb']),
      },
    };
  }

  /**
   * navigator.credentials.get(): signs authenticatorData ‖ SHA-256(clientDataJSON) with the first
   * credential the options allow (any for this RP when allowCredentials is empty: a discoverable
   * credential, which then also returns its user handle).
   */
  getAssertion(options: PublicKeyCredentialRequestOptionsJSON, overrides: CeremonyOverrides & { credential?: SoftCredential; counter?: number } = {}): AuthenticationResponseJSON {
    const allowed = (options.allowCredentials ?? []).map((descriptor) => descriptor.id);
    const credential = overrides.credential ?? this.credentials.find((candidate) =>
      candidate.rpId === (options.rpId ?? candidate.rpId) && (allowed.length === 0 || allowed.includes(b64url(candidate.id))));
    if (!credential) throw new Error('NotAllowedError: no credential for this request');
    if (overrides.counter !== undefined) credential.counter = overrides.counter;
    else if (this.options.counts !== false) credential.counter += 1;
    const authData = this.authData(overrides.rpId ?? credential.rpId, this.flags(0), credential.counter);
    const clientDataJSON = this.clientData('webauthn.get', options.challenge, overrides);
    // ES256 signatures in WebAuthn are ASN.1 DER (§6.5.6), which is what node:crypto produces.
    const signature = sign('sha256', Buffer.concat([authData, sha256(clientDataJSON)]), credential.privateKey);
    return {
      id: b64url(credential.id), rawId: b64url(credential.id), type: 'public-key', clientExtensionResults: {},
      response: {
        clientDataJSON: b64url(clientDataJSON), authenticatorData: b64url(authData), signature: b64url(signature),
        // A browser returns the user handle for discoverable credentials (always, in practice).
        userHandle: credential.userHandle,
      },
    };
  }
}
