import { randomFillSync } from 'node:crypto';

/**
 * CSPRNG output handed out from a 4 KiB buffer that is refilled once spent, the way Node's own
 * randomUUID and oidc-provider's nanoid draw theirs: one call into OpenSSL per 256 CSP nonces
 * instead of one per response (that call was 5 % of a discovery request's CPU in the bench).
 * Every byte is used once; cluster workers are separate processes with pools of their own.
 */
const pool = Buffer.allocUnsafe(4096);
let offset = pool.length;

/** `size` fresh random bytes (at most 4096), encoded. */
export function randomString(size: number, encoding: 'base64' | 'base64url' | 'hex'): string {
  if (size > pool.length) throw new RangeError(`at most ${pool.length} bytes at a time`);
  if (offset + size > pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  const value = pool.toString(encoding, offset, offset + size);
  offset += size;
  return value;
}
