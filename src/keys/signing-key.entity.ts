import { EntitySchema } from 'typeorm';

export interface SigningKey {
  kid: string;
  alg: string;
  publicJwk: Record<string, unknown>;
  /** The private JWK as JSON, sealed with the key-encryption key. */
  privateJwkEncrypted: string;
  createdAt: Date;
  /** Published from creation; signs from this moment on. */
  activatesAt: Date;
  /** When a newer key took over signing. */
  retiredAt: Date | null;
  /** Dropped from JWKS after this: tokens it signed have all expired. */
  expiresAt: Date | null;
}

export const SigningKeyEntity = new EntitySchema<SigningKey>({
  name: 'SigningKey',
  tableName: 'signing_keys',
  columns: {
    kid: { type: 'text', primary: true },
    alg: { type: 'text' },
    publicJwk: { name: 'public_jwk', type: 'jsonb' },
    privateJwkEncrypted: { name: 'private_jwk_encrypted', type: 'text' },
    createdAt: { name: 'created_at', type: 'timestamptz', createDate: true },
    activatesAt: { name: 'activates_at', type: 'timestamptz' },
    retiredAt: { name: 'retired_at', type: 'timestamptz', nullable: true },
    expiresAt: { name: 'expires_at', type: 'timestamptz', nullable: true },
  },
});
