import { pbkdf2Sync, randomBytes } from 'node:crypto';
import bcrypt from 'bcryptjs';
import { describe, expect, it } from 'vitest';
import { legacyHashKind, verifyLegacyHash } from '../../src/accounts/legacy-hashes.js';
import { createPasswordHasher, isImportableHash } from '../../src/accounts/password-hasher.js';

const password = 'imported passphrase from the old system';

function passlib(digest: 'sha256' | 'sha512', iterations: number): string {
  const salt = randomBytes(16);
  const hash = pbkdf2Sync(password, salt, iterations, digest === 'sha256' ? 32 : 64, digest);
  const ab64 = (b: Buffer) => b.toString('base64').replace(/=+$/, '').replace(/\+/g, '.');
  return `$pbkdf2-${digest}$${iterations}$${ab64(salt)}$${ab64(hash)}`;
}

function django(iterations: number): string {
  const salt = 'c2FsdHNhbHQ';
  return `pbkdf2_sha256$${iterations}$${salt}$${pbkdf2Sync(password, salt, iterations, 32, 'sha256').toString('base64')}`;
}

describe('imported password hashes', () => {
  const cases: Array<[string, () => Promise<string> | string, 'bcrypt' | 'pbkdf2']> = [
    ['bcrypt $2b$', () => bcrypt.hash(password, 4), 'bcrypt'],
    ['passlib pbkdf2-sha256', () => passlib('sha256', 1000), 'pbkdf2'],
    ['passlib pbkdf2-sha512', () => passlib('sha512', 1000), 'pbkdf2'],
    ['Django pbkdf2_sha256', () => django(1000), 'pbkdf2'],
  ];
  it.each(cases)('%s verifies the right password only', async (_name, make, kind) => {
    const hash = await make();
    expect(legacyHashKind(hash)).toBe(kind);
    expect(isImportableHash(hash)).toBe(true);
    expect(await verifyLegacyHash(hash, password)).toBe(true);
    expect(await verifyLegacyHash(hash, `${password}!`)).toBe(false);
  });

  it('the hasher accepts them and asks for an argon2id rehash', async () => {
    const hasher = createPasswordHasher({ memoryCost: 8192, timeCost: 1, parallelism: 1 });
    for (const [, make] of cases) {
      const hash = await make();
      expect(await hasher.verify(hash, password)).toBe(true);
      expect(hasher.needsRehash(hash)).toBe(true);
    }
  });

  it('refuses formats it does not know', () => {
    for (const hash of ['plaintext', '$1$md5crypt$abc', '$argon2i$v=19$m=4096,t=3,p=1$c2FsdA$aGFzaA', 'pbkdf2_sha256$x$salt$hash']) {
      expect(isImportableHash(hash), hash).toBe(false);
    }
  });
});
