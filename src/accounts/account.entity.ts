import { EntitySchema } from 'typeorm';

export interface Account {
  id: string;
  /** As the person spelled it (trimmed, NFKC, case kept): shown, and where mail goes. */
  email: string;
  /** `canonicalEmail(email)`: the one form looked up, unique, and every throttle and audit key. */
  emailCanonical: string;
  emailVerified: boolean;
  passwordHash: string | null;
  name: string | null;
  disabledAt: Date | null;
  passwordChangedAt: Date | null;
  /** Opted in (or set by an admin): a second factor at every sign-in. */
  mfaRequired: boolean;
  trustedDeviceEpoch: number;
  createdAt: Date;
  updatedAt: Date;
}

export const AccountEntity = new EntitySchema<Account>({
  name: 'Account',
  tableName: 'accounts',
  columns: {
    id: { type: 'uuid', primary: true, generated: 'uuid' },
    email: { type: 'text' },
    emailCanonical: { name: 'email_canonical', type: 'text' },
    emailVerified: { name: 'email_verified', type: 'boolean', default: false },
    passwordHash: { name: 'password_hash', type: 'text', nullable: true },
    name: { type: 'text', nullable: true },
    disabledAt: { name: 'disabled_at', type: 'timestamptz', nullable: true },
    passwordChangedAt: { name: 'password_changed_at', type: 'timestamptz', nullable: true },
    mfaRequired: { name: 'mfa_required', type: 'boolean', default: false },
    trustedDeviceEpoch: { name: 'trusted_device_epoch', type: 'integer', default: 0 },
    createdAt: { name: 'created_at', type: 'timestamptz', createDate: true },
    updatedAt: { name: 'updated_at', type: 'timestamptz', updateDate: true },
  },
});
