import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  canonicalJson, GENESIS_PREV_HASH, hashEvent, prepareContent, redactSecrets, REDACTED, type AuditEventContent,
} from '../../src/audit/audit-chain.js';

const content: AuditEventContent = {
  occurredAt: '2026-01-02T03:04:05.678Z', type: 'client.created', actor: 'cli', accountId: null,
  clientId: 'app', ip: '127.0.0.1', userAgent: null, details: { name: 'App', redirectUris: ['https://a/cb'] },
};

describe('canonicalJson', () => {
  it('does not depend on key order, at any depth', () => {
    const a = { b: 1, a: { y: [1, { q: 1, p: 2 }], x: null } };
    const b = { a: { x: null, y: [1, { p: 2, q: 1 }] }, b: 1 };
    expect(canonicalJson(a)).toBe(canonicalJson(b));
    expect(canonicalJson(a)).toBe('{"a":{"x":null,"y":[1,{"p":2,"q":1}]},"b":1}');
  });

  it('keeps array order and drops undefined members like JSON does', () => {
    expect(canonicalJson([2, 1])).not.toBe(canonicalJson([1, 2]));
    expect(canonicalJson({ a: undefined, b: 'x' })).toBe('{"b":"x"}');
  });
});

describe('hashEvent', () => {
  it('is SHA-256 hex over prevHash, a newline and the canonical content', () => {
    const expected = createHash('sha256').update(`${GENESIS_PREV_HASH}\n${canonicalJson(content)}`).digest('hex');
    expect(hashEvent(GENESIS_PREV_HASH, content)).toBe(expected);
    expect(GENESIS_PREV_HASH).toMatch(/^0{64}$/);
  });

  it('is deterministic and independent of key order', () => {
    const reordered = Object.fromEntries(Object.entries(content).reverse()) as unknown as AuditEventContent;
    expect(hashEvent(GENESIS_PREV_HASH, reordered)).toBe(hashEvent(GENESIS_PREV_HASH, content));
  });

  it('changes with the content and with the previous hash', () => {
    const base = hashEvent(GENESIS_PREV_HASH, content);
    expect(hashEvent(GENESIS_PREV_HASH, { ...content, details: { name: 'Other' } })).not.toBe(base);
    expect(hashEvent('f'.repeat(64), content)).not.toBe(base);
  });
});

describe('redactSecrets', () => {
  it('replaces secret-looking values at any depth and keeps the rest', () => {
    const redacted = redactSecrets({
      password: 'hunter2', client_secret: 's3cr3t', refreshToken: 'rt', 'X-Api-Key': 'k', code_verifier: 'v',
      headers: { Authorization: 'Bearer abc', cookie: '_session=1', accept: 'text/html' },
      jwk: { kty: 'RSA', kid: 'k1', n: 'modulus', e: 'AQAB', d: 'private', p: 'p', q: 'q' },
      list: [{ token: 't', label: 'ok' }],
      forwarded: 'Bearer leaked',
      name: 'App', kid: 'k1', token_endpoint_auth_method: 'client_secret_basic', secretRotatedAt: 'now',
      passwordChanged: true, otp: 123456, apiKeyPrefix: 'pk_abc', passwordHash: null,
    });
    expect(redacted).toEqual({
      password: REDACTED, client_secret: REDACTED, refreshToken: REDACTED, 'X-Api-Key': REDACTED, code_verifier: REDACTED,
      headers: { Authorization: REDACTED, cookie: REDACTED, accept: 'text/html' },
      jwk: { kty: 'RSA', kid: 'k1', n: 'modulus', e: 'AQAB', d: REDACTED, p: REDACTED, q: REDACTED },
      list: [{ token: REDACTED, label: 'ok' }],
      forwarded: REDACTED,
      name: 'App', kid: 'k1', token_endpoint_auth_method: 'client_secret_basic', secretRotatedAt: 'now',
      passwordChanged: true, otp: REDACTED, apiKeyPrefix: 'pk_abc', passwordHash: null,
    });
  });

  it('redacts a whole object or array held under a secret key', () => {
    expect(redactSecrets({ secrets: ['a', 'b'], credentials: { user: 'u', pass: 'p' } }))
      .toEqual({ secrets: REDACTED, credentials: REDACTED });
  });

  it('does not modify its input', () => {
    const input = { nested: { password: 'x' } };
    redactSecrets(input);
    expect(input.nested.password).toBe('x');
  });
});

describe('prepareContent', () => {
  it('redacts, normalises like jsonb and lower-cases the account id', () => {
    const at = new Date('2026-01-02T03:04:05.678Z');
    const prepared = prepareContent({
      type: 'login.failed', accountId: 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11',
      details: { password: 'x', when: at, missing: undefined },
    }, at);
    expect(prepared).toEqual({
      occurredAt: '2026-01-02T03:04:05.678Z', type: 'login.failed', actor: null,
      accountId: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', clientId: null, ip: null, userAgent: null,
      details: { password: REDACTED, when: '2026-01-02T03:04:05.678Z' },
    });
  });

  it('refuses an account id that is not a UUID', () => {
    expect(() => prepareContent({ type: 'x', accountId: 'nope' }, new Date())).toThrow(TypeError);
  });
});
