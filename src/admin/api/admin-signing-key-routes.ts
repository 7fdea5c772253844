import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import type { KeyService } from '../../keys/key-service.js';
import { adminActor } from './admin-auth.js';
import { defineRoute, type RegisteredRoute } from './admin-route.js';
import { toJson } from './admin-schemas.js';

type Auth = (ctx: Context, next: () => Promise<void>) => Promise<void>;

const timestamp = z.string().describe('ISO 8601');

/** A published signing key: public facts only, never key material. */
export const signingKeySchema = z.object({
  kid: z.string(),
  alg: z.string(),
  status: z.enum(['signing', 'next', 'retired']),
  createdAt: timestamp,
  activatesAt: timestamp,
  retiredAt: timestamp.nullable(),
  expiresAt: timestamp.nullable(),
});

export const signingKeyListSchema = z.object({ items: z.array(signingKeySchema) });
export const signingKeyRotateSchema = z.strictObject({ immediate: z.boolean().optional() });

/** /signing-keys: the published keys, and rotation. Emergency revocation stays in the CLI (`keys revoke`). */
export function registerSigningKeyRoutes(router: Router, registry: RegisteredRoute[], auth: Auth, keys: KeyService): void {
  const represent = (key: unknown) => signingKeySchema.parse(toJson(key));

  defineRoute(router, registry, auth, {
    method: 'get', path: '/signing-keys', summary: 'List the published signing keys (public facts only)', scope: 'admin:read', errors: [],
    response: { name: 'SigningKeyList', schema: signingKeyListSchema },
    handle: async () => ({ items: (await keys.list()).map(represent) }),
  });

  defineRoute(router, registry, auth, {
    method: 'post', path: '/signing-keys/rotate',
    summary: 'Publish a new signing key: it signs after the publish lead, or at once with immediate (caches may not know it yet); the old key stays published until what it signed expires',
    scope: 'admin:write', errors: [400, 415, 422], status: 201, bodyOptional: true,
    body: { name: 'SigningKeyRotate', schema: signingKeyRotateSchema }, response: { name: 'SigningKey', schema: signingKeySchema },
    handle: async ({ body, admin }) => represent(await keys.rotate(adminActor(admin), { immediate: body.immediate === true })),
  });
}
