import { Writable } from 'node:stream';
import { ReplyError } from 'ioredis';
import { QueryFailedError } from 'typeorm';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/infra/logger.js';
import { safeError, safeErrorMessage } from '../../src/infra/safe-error.js';

const hash = '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$0123456789abcdefghijABCDEFGHIJ0123456789ab';
const token = 'tk_9f8e7d6c5b4a39281706f5e4d3c2b1a0ZZYYXX';

function queryFailed() {
  const driverError = Object.assign(new Error(`duplicate key value violates unique constraint "accounts_email_key"`), {
    code: '23505', constraint: 'accounts_email_key', table: 'accounts', column: undefined, schema: 'public',
    detail: 'Key (email)=(alice@example.com) already exists.', where: `SQL statement ${hash}`,
  });
  return new QueryFailedError(
    'INSERT INTO accounts (email, password_hash) VALUES ($1, $2)', ['alice@example.com', hash], driverError);
}

function lines(run: (logger: ReturnType<typeof createLogger>) => void): string {
  let out = '';
  const stream = new Writable({ write(chunk, _encoding, done) { out += String(chunk); done(); } });
  const logger = createLogger('info', stream as never);
  run(logger);
  logger.flush();
  return out;
}

describe('safeError', () => {
  it('keeps SQLSTATE, constraint and table of a QueryFailedError, never its query, parameters or detail', () => {
    const safe = safeError(queryFailed());
    expect(safe).toMatchObject({
      type: 'QueryFailedError', code: '23505', constraint: 'accounts_email_key', table: 'accounts', schema: 'public',
    });
    const text = JSON.stringify(safe);
    expect(text).not.toContain('$argon2');
    expect(text).not.toContain('alice@example.com');
    expect(text).not.toContain('INSERT INTO');
    expect(text).not.toContain('Key (email)');
    expect(safe.message).toBe('duplicate key value violates unique constraint "accounts_email_key"');
  });

  it('strips a parameter that the driver quotes back in its message', () => {
    const driverError = Object.assign(new Error(`invalid input syntax for type uuid: "${token}"`), { code: '22P02' });
    const safe = safeError(new QueryFailedError('SELECT 1 WHERE id = $1', [token], driverError));
    expect(safe.code).toBe('22P02');
    expect(JSON.stringify(safe)).not.toContain(token);
    expect(safe.message).toMatch(/^invalid input syntax for type uuid: /);
  });

  it('keeps only the command name of an ioredis ReplyError, never its arguments', () => {
    const error = Object.assign(new ReplyError(`WRONGTYPE Operation against a key holding the wrong kind of value`), {
      command: { name: 'hset', args: [`AccessToken:${token}`, 'payload', hash] },
    });
    const safe = safeError(error);
    expect(safe).toMatchObject({ type: 'ReplyError', command: 'hset' });
    expect(JSON.stringify(safe)).not.toMatch(/argon2|AccessToken|tk_9f8e/);
  });

  it('follows cause chains and AggregateError members, scrubbing each', () => {
    const inner = new Error(`login for ${hash} failed`, { cause: queryFailed() });
    const outer = new AggregateError([inner, new Error(`Bearer ${token}`)], 'several things failed', { cause: inner });
    const safe = safeError(outer);
    const text = JSON.stringify(safe);
    expect(text).not.toMatch(/argon2|alice@example\.com|tk_9f8e/);
    expect(safe.errors).toHaveLength(2);
    expect((safe.cause as { cause: { code: string } }).cause.code).toBe('23505');
    expect(text).toContain('Bearer [redacted]');
  });

  it('removes DSN passwords, JWTs and long random strings from messages', () => {
    const message = safeErrorMessage(new Error(
      'connect postgres://app:s3cretpw@db:5432/x with eyJhbGciOi.eyJzdWIiOiJ4In0.sig'
        + ' and 0123456789abcdef0123456789abcdef',
    ));
    expect(message).toBe('connect postgres://[redacted]@db:5432/x with [redacted] and [redacted]');
  });

  it('is the logger\'s serializer for err, error and cause, and the redact list covers secret fields', () => {
    const out = lines((logger) => {
      logger.error({ err: queryFailed() }, 'unhandled error');
      logger.error(
        { error: queryFailed(), password: 'hunter2hunter2', body: { client_secret: 'shh-secret-value' } }, 'x');
      logger.error(queryFailed(), 'bare error object');
    });
    expect(out.trim().split('\n')).toHaveLength(3);
    expect(out).not.toMatch(/argon2|alice@example\.com|hunter2|shh-secret-value|INSERT INTO/);
    expect(out).toContain('"constraint":"accounts_email_key"');
  });
});
