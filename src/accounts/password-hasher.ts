import argon2, { type HashOptions } from 'argon2';
import { createConcurrencyLimit, hashConcurrency } from '../infra/concurrency-limit.js';
import { normalisePassword } from './breach-checker.js';
import { legacyHashKind, verifyLegacyHash } from './legacy-hashes.js';

export interface Argon2Parameters { memoryCost: number; timeCost: number; parallelism: number }

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  /** True when `password` matches; `hash` undefined still spends a full verification (no timing oracle). */
  verify(hash: string | null | undefined, password: string): Promise<boolean>;
  needsRehash(hash: string): boolean;
}

/** Formats `users import` accepts: argon2id, and bcrypt/PBKDF2 from the system being migrated. */
export function isImportableHash(hash: string): boolean {
  return /^\$argon2id\$v=19\$m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/.test(hash) || legacyHashKind(hash) !== undefined;
}

/**
 * argon2id at the configured parameters (OWASP: 19 MiB, t=2, p=1). At most `concurrency`
 * computations run at once (see hashConcurrency); the others wait their turn in memory.
 */
export function createPasswordHasher(params: Argon2Parameters, concurrency = hashConcurrency()): PasswordHasher {
  const options: HashOptions & { raw?: false } = { type: argon2.argon2id, memoryCost: params.memoryCost, timeCost: params.timeCost, parallelism: params.parallelism };
  const limited = createConcurrencyLimit(concurrency);
  // A real hash of a random password: verifying against it costs what a real account costs.
  const dummyHash = limited(() => argon2.hash(`dummy-${Math.random()}`, options));
  return {
    // NFKC (NIST SP 800-63B §3.1.1.2): the same password typed on two keyboards hashes the same.
    hash: (password) => limited(() => argon2.hash(normalisePassword(password), options)),
    async verify(hash, password) {
      if (!hash) {
        const dummy = await dummyHash;
        await limited(() => argon2.verify(dummy, normalisePassword(password)));
        return false;
      }
      try {
        // Imported bcrypt/PBKDF2 hashes were made from the password as typed, before NFKC.
        if (legacyHashKind(hash)) return await limited(() => verifyLegacyHash(hash, password));
        return await limited(() => argon2.verify(hash, normalisePassword(password)));
      } catch {
        return false;
      }
    },
    needsRehash: (hash) => !hash.startsWith('$argon2id$') || argon2.needsRehash(hash, options),
  };
}
