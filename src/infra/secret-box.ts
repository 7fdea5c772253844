import { CompactEncrypt, compactDecrypt } from 'jose';

/** AES-256-GCM (JWE `dir` + `A256GCM`) under the configured key-encryption key. */
export interface SecretBox {
  seal(plaintext: string): Promise<string>;
  open(sealed: string): Promise<string>;
}

export function createSecretBox(encryptionKey: string): SecretBox {
  const key = Buffer.from(encryptionKey, 'base64url');
  if (key.length !== 32) throw new Error('encryption key must be 32 bytes');
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();
  return {
    seal: (plaintext) => new CompactEncrypt(encoder.encode(plaintext)).setProtectedHeader({ alg: 'dir', enc: 'A256GCM' }).encrypt(key),
    open: async (sealed) => decoder.decode((await compactDecrypt(sealed, key)).plaintext),
  };
}
