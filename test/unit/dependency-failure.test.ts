import { Writable } from 'node:stream';
import { errors } from 'oidc-provider';
import { pino } from 'pino';
import { QueryFailedError } from 'typeorm';
import { describe, expect, it } from 'vitest';
import { BadRequestError, ServiceUnavailableError } from '../../src/errors/app-error.js';
import { dependencyOf, isDependencyFailure } from '../../src/infra/dependency-failure.js';
import { createDependencyHealth } from '../../src/infra/dependency-health.js';

const pgError = (code: string, message: string) => Object.assign(new Error(message), { code, severity: 'FATAL' });
const system = (code: string) =>
  Object.assign(new Error(`connect ${code} 127.0.0.1:5432`), { code, errno: -111, syscall: 'connect' });

describe('isDependencyFailure', () => {
  it.each([
    ['ECONNREFUSED', system('ECONNREFUSED'), 'unknown'],
    ['ECONNRESET wrapped in a cause', new Error('request failed', { cause: system('ECONNRESET') }), 'unknown'],
    ['pg-pool acquire timeout', new Error('timeout exceeded when trying to connect'), 'postgres'],
    ['pg server gone mid-query', new Error('Connection terminated unexpectedly'), 'postgres'],
    ['57P01 admin shutdown inside TypeORM',
      new QueryFailedError('SELECT 1', [], pgError('57P01', 'terminating connection due to administrator command')),
      'postgres'],
    ['57014 statement timeout',
      new QueryFailedError('SELECT 1', [], pgError('57014', 'canceling statement due to statement timeout')),
      'postgres'],
    ['08006 connection failure', pgError('08006', 'connection failure'), 'postgres'],
    ['ioredis closed', new Error('Connection is closed.'), 'redis'],
    ['ioredis max retries',
      Object.assign(new Error('Reached the max retries per request limit (which is 1).'), {
        name: 'MaxRetriesPerRequestError',
      }),
      'redis'],
    ['ioredis command timeout', new Error('Command timed out'), 'redis'],
    ['rate-limit store failing closed',
      new ServiceUnavailableError('rate_limit_store_unavailable', 'x', { cause: new Error('Command timed out') }),
      'redis'],
  ])('%s is a dependency failure', (_name, error, dependency) => {
    expect(isDependencyFailure(error)).toBe(true);
    expect(dependencyOf(error)).toBe(dependency);
  });

  it.each([
    ['a unique violation',
      new QueryFailedError('INSERT', [], pgError('23505', 'duplicate key value violates unique constraint'))],
    ['a syntax error', new QueryFailedError('SELEC', [], pgError('42601', 'syntax error at or near "SELEC"'))],
    ['a bug', new TypeError("Cannot read properties of undefined (reading 'id')")],
    ['an OAuth error', new errors.InvalidGrant('grant request is invalid')],
    ['bad input', new BadRequestError('invalid_email')],
    ['nothing at all', undefined],
  ])('%s is not', (_name, error) => {
    expect(isDependencyFailure(error)).toBe(false);
  });
});

function capture() {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { lines, logger: pino({ level: 'info' }, sink) };
}

describe('createDependencyHealth', () => {
  it('logs one line when a store goes down and one when it is back, however many requests fail', async () => {
    const { lines, logger } = capture();
    let up = false;
    let clock = 1_000_000;
    const health = createDependencyHealth({
      logger, now: () => clock, probeIntervalMs: 10, summaryIntervalMs: 20,
      probes: [{ name: 'redis', check: async () => { if (!up) throw new Error('redis is reconnecting'); } }],
    });
    try {
      for (let i = 0; i < 50; i++) health.requestFailed(new Error('Command timed out'));
      await expect.poll(() => health.down()).toEqual(['redis']);
      clock += 20_000;
      up = true;
      await expect.poll(() => health.down()).toEqual([]);
      await expect.poll(() => lines.some((line) => String(line.msg).includes('requests failed'))).toBe(true);
      // The count comes on its own timer, so it may land before or after "back".
      const messages = lines.map((line) => line.msg);
      expect(messages[0]).toBe('redis unavailable');
      expect([...messages].sort())
        .toEqual(['redis back after 20 s', 'redis unavailable', 'redis: 50 requests failed with 503']);
      expect(lines.every((line) => line.err === undefined)).toBe(true);
    } finally {
      health.stop();
    }
  });

  it('does not call a store down when its probe answers (an exhausted pool is not an outage)', async () => {
    const { lines, logger } = capture();
    const health = createDependencyHealth({
      logger, probes: [{ name: 'postgres', check: async () => {} }], summaryIntervalMs: 10,
    });
    try {
      health.requestFailed(new Error('timeout exceeded when trying to connect'));
      await expect.poll(() => lines.length).toBe(1);
      expect(lines[0])
        .toMatchObject({ msg: 'postgres: 1 requests failed with 503', dependency: 'postgres', failedRequests: 1 });
      expect(health.down()).toEqual([]);
    } finally {
      health.stop();
    }
  });
});
