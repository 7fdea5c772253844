import { createHmac, randomInt } from 'node:crypto';

const alphabet = 'abcdefghjkmnpqrstuvwxyz23456789'; // no 0/o, 1/l/i: read aloud and typed by hand
const codeLength = 10;

/** Ten codes like "k7m2p-q9x4t" (≈ 49 bits each), shown once. */
export function newRecoveryCodes(count = 10): string[] {
  return Array.from({ length: count }, () => {
    const chars = Array.from({ length: codeLength }, () => alphabet[randomInt(alphabet.length)]).join('');
    return `${chars.slice(0, 5)}-${chars.slice(5)}`;
  });
}

/** Accepts what people type: any case, with or without the dash and spaces. */
export function normaliseRecoveryCode(input: string): string {
  const compact = input.toLowerCase().replace(/[\s-]/g, '');
  return compact.length === codeLength ? `${compact.slice(0, 5)}-${compact.slice(5)}` : compact;
}

/**
 * Keyed hash of a code: HMAC under a server secret, so a leaked table can't be brute-forced
 * offline the way a plain hash of a 49-bit code could.
 */
export function recoveryCodeHasher(key: string) {
  return (code: string) => createHmac('sha256', key).update(`recovery:${normaliseRecoveryCode(code)}`).digest('hex');
}
