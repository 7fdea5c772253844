import { pbkdf2, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import bcrypt from 'bcryptjs';

const pbkdf2Async = promisify(pbkdf2);

interface Pbkdf2Hash { digest: 'sha1' | 'sha256' | 'sha512'; iterations: number; salt: Buffer; hash: Buffer }

// passlib writes "adapted base64": '.' instead of '+', no padding.
const ab64 = (text: string) => Buffer.from(text.replace(/\./g, '+'), 'base64');

/** passlib/PHC `$pbkdf2-sha256$29000$salt$hash` and Django `pbkdf2_sha256$260000$salt$hash`. */
function parsePbkdf2(hash: string): Pbkdf2Hash | undefined {
  const phc = /^\$pbkdf2(?:-(sha256|sha512))?\$(\d+)\$([A-Za-z0-9./+]+)\$([A-Za-z0-9./+]+)$/.exec(hash);
  if (phc) return { digest: (phc[1] ?? 'sha1') as Pbkdf2Hash['digest'], iterations: Number(phc[2]), salt: ab64(phc[3]!), hash: ab64(phc[4]!) };
  const django = /^pbkdf2_(sha1|sha256)\$(\d+)\$([^$]+)\$([A-Za-z0-9+/=]+)$/.exec(hash);
  if (django) return { digest: django[1] as Pbkdf2Hash['digest'], iterations: Number(django[2]), salt: Buffer.from(django[3]!, 'utf8'), hash: Buffer.from(django[4]!, 'base64') };
  return undefined;
}

const bcryptPattern = /^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$/;

/** Which imported format a hash is in, or undefined when it is neither bcrypt nor PBKDF2. */
export function legacyHashKind(hash: string): 'bcrypt' | 'pbkdf2' | undefined {
  if (bcryptPattern.test(hash)) return 'bcrypt';
  const parsed = parsePbkdf2(hash);
  return parsed && parsed.iterations > 0 && parsed.hash.length >= 16 ? 'pbkdf2' : undefined;
}

/** Verifies a password against an imported bcrypt or PBKDF2 hash (upgraded to argon2id after). */
export async function verifyLegacyHash(hash: string, password: string): Promise<boolean> {
  if (bcryptPattern.test(hash)) return bcrypt.compare(password, hash);
  const parsed = parsePbkdf2(hash);
  if (!parsed) return false;
  const derived = await pbkdf2Async(password, parsed.salt, parsed.iterations, parsed.hash.length, parsed.digest);
  return timingSafeEqual(derived, parsed.hash);
}
