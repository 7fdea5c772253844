import * as oidc from 'openid-client';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { startTestServer } from '../helpers/test-server.js';

const api = 'https://api.example.test';

describe.each(['ES256', 'EdDSA'] as const)('signing with %s', (algorithm) => {
  it('generates a key of that algorithm and signs JWT access tokens with it', async () => {
    const t = await startTestServer({ keys: { algorithm }, apis: [{ identifier: api, scopes: ['read'] }] });
    try {
      const { client, secret } = await t.container.clients.create({ name: 'Worker', type: 'service' }, 'test');
      const config = await oidc.discovery(new URL(t.issuer), client.clientId, {}, oidc.ClientSecretBasic(secret!), { execute: [oidc.allowInsecureRequests] });
      expect(config.serverMetadata().id_token_signing_alg_values_supported).toContain(algorithm);
      const { access_token } = await oidc.clientCredentialsGrant(config, { resource: api, scope: 'read' });
      expect(decodeProtectedHeader(access_token).alg).toBe(algorithm);
      await expect(jwtVerify(access_token, createRemoteJWKSet(new URL('/jwks', t.issuer)), { issuer: t.issuer, audience: api })).resolves.toBeTruthy();
    } finally {
      await t.close();
    }
  });
});
