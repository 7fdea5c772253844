import { describe, expect, it } from 'vitest';
import { createPasswordHasher } from '../../src/accounts/password-hasher.js';

const owasp = { memoryCost: 19_456, timeCost: 2, parallelism: 1 };

describe('password hasher', () => {
  it('hashes with argon2id at the OWASP parameters by default', async () => {
    const hasher = createPasswordHasher(owasp);
    const hash = await hasher.hash('correct horse battery staple');
    expect(hash).toMatch(/^\$argon2id\$v=19\$m=19456,p=1,t=2\$/);
    expect(await hasher.verify(hash, 'correct horse battery staple')).toBe(true);
    expect(await hasher.verify(hash, 'Correct horse battery staple')).toBe(false);
  });

  it('never truncates: a 200-character password differs from its 199-character prefix', async () => {
    const hasher = createPasswordHasher({ memoryCost: 8192, timeCost: 1, parallelism: 1 });
    const long = 'å'.repeat(200);
    const hash = await hasher.hash(long);
    expect(await hasher.verify(hash, long)).toBe(true);
    expect(await hasher.verify(hash, long.slice(0, 199))).toBe(false);
  });

  it('asks for a rehash when the parameters change, and refuses a missing or garbage hash', async () => {
    const weak = createPasswordHasher({ memoryCost: 8192, timeCost: 1, parallelism: 1 });
    const strong = createPasswordHasher(owasp);
    const hash = await weak.hash('pw');
    expect(strong.needsRehash(hash)).toBe(true);
    expect(weak.needsRehash(hash)).toBe(false);
    expect(await strong.verify(null, 'pw')).toBe(false);
    expect(await strong.verify('not-a-hash', 'pw')).toBe(false);
  });
});
