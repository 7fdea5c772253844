import { describe, expect, it } from 'vitest';
import { AuditPrivilegeError, assertAuditPrivileges, excessAuditPrivileges } from '../../src/audit/audit-privileges.js';
import type { AuditTablePrivileges } from '../../src/audit/audit-privilege-repository.js';
import {
  CHECKPOINT_TYP, createCheckpointSigner, generateCheckpointKey, type CheckpointPayload,
} from '../../src/audit/checkpoint-signer.js';
import { createLogger } from '../../src/infra/logger.js';

const payload: CheckpointPayload = {
  typ: CHECKPOINT_TYP, lastEventId: '42', lastHash: 'a'.repeat(64), count: 42, createdAt: '2026-12-03T00:00:00.000Z',
  prev: null,
};

describe('checkpoint signer', () => {
  it('signs a compact EdDSA JWS that only its own key verifies', async () => {
    const key = await generateCheckpointKey();
    const signer = await createCheckpointSigner(key.privateKeyPem);
    const jws = await signer.sign(payload);
    expect(JSON.parse(Buffer.from(jws.split('.')[0]!, 'base64url').toString()))
      .toEqual({ alg: 'EdDSA', kid: signer.kid, typ: CHECKPOINT_TYP });
    expect(await signer.verify(jws)).toEqual(payload);
    const other = await createCheckpointSigner((await generateCheckpointKey()).privateKeyPem);
    await expect(other.verify(jws)).rejects.toMatchObject({ code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' });
  });

  it('reads the same key as PEM, as PEM with escaped newlines and as a JWK, deriving the public key', async () => {
    const key = await generateCheckpointKey();
    const kids = await Promise.all([
      key.privateKeyPem, key.privateKeyPem.replace(/\n/g, '\\n'), JSON.stringify(key.privateJwk),
    ]
      .map(async (text) => (await createCheckpointSigner(text)).kid));
    expect(new Set(kids)).toEqual(new Set([key.publicJwk.kid]));
    expect((await createCheckpointSigner(key.privateKeyPem)).publicJwk)
      .toMatchObject({ kty: 'OKP', crv: 'Ed25519', x: key.publicJwk.x });
    expect((await createCheckpointSigner(key.privateKeyPem)).publicJwk).not.toHaveProperty('d');
  });

  it('refuses a public key, another curve and garbage', async () => {
    const key = await generateCheckpointKey();
    for (const text of [
      JSON.stringify(key.publicJwk), JSON.stringify({ ...key.privateJwk, crv: 'X25519' }), 'not a key',
    ]) {
      await expect(createCheckpointSigner(text)).rejects.toThrow('audit.checkpoint.key: not an Ed25519 private key');
    }
  });
});

describe('audit privileges', () => {
  const runtime: AuditTablePrivileges = {
    table: 'audit_events', role: 'svc', canInsert: true, canSelect: true, canUpdate: false, canDelete: false,
    canTruncate: false, owns: false, superuser: false,
  };
  const logger = createLogger('silent');

  it('accepts INSERT and SELECT only, and names everything beyond', () => {
    expect(excessAuditPrivileges([runtime])).toEqual([]);
    expect(excessAuditPrivileges([{ ...runtime, owns: true, canDelete: true }]))
      .toEqual(['audit_events: role svc owns the table (may disable its triggers), may DELETE']);
    expect(() => assertAuditPrivileges([runtime], { production: true, logger })).not.toThrow();
  });

  it('refuses an over-privileged role in production and only warns elsewhere', () => {
    const owner = { ...runtime, owns: true, canUpdate: true, canDelete: true, canTruncate: true };
    expect(() => assertAuditPrivileges([owner], { production: true, logger })).toThrow(AuditPrivilegeError);
    expect(() => assertAuditPrivileges([owner], { production: false, logger })).not.toThrow();
    expect(() => assertAuditPrivileges([{ ...runtime, canInsert: false }], { production: false, logger }))
      .toThrow(/needs INSERT and SELECT/);
  });
});
