import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPasswordHasher } from '../../src/accounts/password-hasher.js';
import { createAccountService } from '../../src/accounts/account-service.js';
import { createContainer, type Container } from '../../src/container.js';
import { createLogger } from '../../src/infra/logger.js';
import { testEnvironment } from '../helpers/test-server.js';

describe('account service', () => {
  let c: Container;
  beforeAll(async () => {
    const { config } = await testEnvironment();
    c = await createContainer(config, createLogger('silent'), { migrate: true, redis: false });
  });
  afterAll(() => c?.close());

  it('signs in case-insensitively by email and audits success and failure', async () => {
    const account = await c.accounts.create({ email: 'Mixed.Case@Example.com', password: 'pw-one' }, 'test');
    expect((await c.accounts.authenticate('mixed.case@example.com', 'pw-one', { ip: '192.0.2.1' }))?.id).toBe(account.id);
    expect(await c.accounts.authenticate('mixed.case@example.com', 'wrong', { ip: '192.0.2.1' })).toBeUndefined();
    const events = await c.audit.listForAccount(account.id, { limit: 10 });
    expect(events.map((e) => e.type)).toEqual(['login.failed', 'login.succeeded', 'account.created']);
    expect(events[0]!.ip).toBe('192.0.2.1');
  });

  it('refuses a duplicate email whatever its case, and a disabled account', async () => {
    await c.accounts.create({ email: 'dup@example.com', password: 'pw' }, 'test');
    await expect(c.accounts.create({ email: 'DUP@example.com', password: 'pw' }, 'test')).rejects.toMatchObject({ code: 'email_taken', status: 409 });
    await c.accounts.setDisabled('dup@example.com', true, 'test');
    expect(await c.accounts.authenticate('dup@example.com', 'pw', {})).toBeUndefined();
  });

  it('upgrades a hash to the current argon2 parameters at the next sign-in', async () => {
    const weak = createAccountService({ db: c.db, hasher: createPasswordHasher({ memoryCost: 8192, timeCost: 1, parallelism: 1 }) });
    const strong = createAccountService({ db: c.db, hasher: createPasswordHasher({ memoryCost: 19_456, timeCost: 2, parallelism: 1 }) });
    const account = await weak.create({ email: 'upgrade@example.com', password: 'pw' }, 'test');
    await strong.authenticate('upgrade@example.com', 'pw', {});
    const stored = await c.db.repos.accounts.findById(account.id);
    expect(stored!.passwordHash).toMatch(/m=19456,p=1,t=2/);
  });
});
