import { EntitySchema } from 'typeorm';

export const factorTypes = ['totp', 'webauthn', 'email', 'sms'] as const;
export type FactorType = (typeof factorTypes)[number];

/** One second factor of an account; unconfirmed while its enrolment is unfinished. */
export interface MfaFactor {
  id: string;
  accountId: string;
  type: FactorType;
  name: string;
  /** TOTP seed, sealed with the key-encryption key. */
  secretEncrypted: string | null;
  /** The last TOTP time step accepted: a code is never accepted twice (RFC 6238 §5.2). */
  lastUsedStep: string | null;
  credentialId: string | null;
  publicKey: Buffer | null;
  signCount: string | null;
  transports: string[] | null;
  deviceType: string | null;
  backedUp: boolean | null;
  phone: string | null;
  confirmedAt: Date | null;
  createdAt: Date;
  lastUsedAt: Date | null;
}

export const MfaFactorEntity = new EntitySchema<MfaFactor>({
  name: 'MfaFactor',
  tableName: 'mfa_factors',
  columns: {
    id: { type: 'uuid', primary: true, generated: 'uuid' },
    accountId: { name: 'account_id', type: 'uuid' },
    type: { type: 'text' },
    name: { type: 'text' },
    secretEncrypted: { name: 'secret_encrypted', type: 'text', nullable: true },
    lastUsedStep: { name: 'last_used_step', type: 'bigint', nullable: true },
    credentialId: { name: 'credential_id', type: 'text', nullable: true, unique: true },
    publicKey: { name: 'public_key', type: 'bytea', nullable: true },
    signCount: { name: 'sign_count', type: 'bigint', nullable: true },
    transports: { type: 'text', array: true, nullable: true },
    deviceType: { name: 'device_type', type: 'text', nullable: true },
    backedUp: { name: 'backed_up', type: 'boolean', nullable: true },
    phone: { type: 'text', nullable: true },
    confirmedAt: { name: 'confirmed_at', type: 'timestamptz', nullable: true },
    createdAt: { name: 'created_at', type: 'timestamptz', createDate: true },
    lastUsedAt: { name: 'last_used_at', type: 'timestamptz', nullable: true },
  },
});
