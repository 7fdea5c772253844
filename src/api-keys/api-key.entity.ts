import { EntitySchema } from 'typeorm';

export const apiKeyOwnerTypes = ['service', 'account'] as const;
export type ApiKeyOwnerType = (typeof apiKeyOwnerTypes)[number];

export interface ApiKey {
  /** The public half of `pcl_<id>_<secret>`: random, url-safe, the lookup key. */
  id: string;
  ownerType: ApiKeyOwnerType;
  /** The owning service client (service keys). */
  clientId: string | null;
  /** The owning account (personal keys). */
  accountId: string | null;
  name: string;
  /** Hex SHA-256 of the secret: the secret is high-entropy, so a fast hash suffices. */
  secretDigest: string;
  scopes: string[];
  /** The resource indicator (a registered API) the key is for; null when not bound to one. */
  api: string | null;
  expiresAt: Date | null;
  lastUsedAt: Date | null;
  lastUsedIp: string | null;
  revokedAt: Date | null;
  createdAt: Date;
  createdBy: string;
}

export const ApiKeyEntity = new EntitySchema<ApiKey>({
  name: 'ApiKey',
  tableName: 'api_keys',
  columns: {
    id: { type: 'text', primary: true },
    ownerType: { name: 'owner_type', type: 'text' },
    clientId: { name: 'client_id', type: 'text', nullable: true },
    accountId: { name: 'account_id', type: 'uuid', nullable: true },
    name: { type: 'text' },
    secretDigest: { name: 'secret_digest', type: 'text' },
    scopes: { type: 'text', array: true, default: () => `'{}'` },
    api: { type: 'text', nullable: true },
    expiresAt: { name: 'expires_at', type: 'timestamptz', nullable: true },
    lastUsedAt: { name: 'last_used_at', type: 'timestamptz', nullable: true },
    lastUsedIp: { name: 'last_used_ip', type: 'text', nullable: true },
    revokedAt: { name: 'revoked_at', type: 'timestamptz', nullable: true },
    createdAt: { name: 'created_at', type: 'timestamptz', createDate: true },
    createdBy: { name: 'created_by', type: 'text' },
  },
});
