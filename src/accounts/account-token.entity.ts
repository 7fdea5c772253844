import { EntitySchema } from 'typeorm';

export const tokenPurposes = ['verify_email', 'reset_password', 'unlock', 'change_email'] as const;
export type TokenPurpose = (typeof tokenPurposes)[number];

/** A single-use emailed link; only the SHA-256 of its token is stored. */
export interface AccountToken {
  id: string;
  accountId: string;
  purpose: TokenPurpose;
  tokenHash: string;
  /** The address the link was sent to: verifying it proves control of exactly this address. */
  email: string;
  expiresAt: Date;
  usedAt: Date | null;
  createdAt: Date;
}

export const AccountTokenEntity = new EntitySchema<AccountToken>({
  name: 'AccountToken',
  tableName: 'account_tokens',
  columns: {
    id: { type: 'uuid', primary: true, generated: 'uuid' },
    accountId: { name: 'account_id', type: 'uuid' },
    purpose: { type: 'text' },
    tokenHash: { name: 'token_hash', type: 'text', unique: true },
    email: { type: 'text' },
    expiresAt: { name: 'expires_at', type: 'timestamptz' },
    usedAt: { name: 'used_at', type: 'timestamptz', nullable: true },
    createdAt: { name: 'created_at', type: 'timestamptz', createDate: true },
  },
});
