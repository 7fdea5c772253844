import { EntitySchema } from 'typeorm';

export const clientTypes = ['web', 'spa', 'native', 'service'] as const;
export type ClientType = (typeof clientTypes)[number];

export interface Client {
  clientId: string;
  name: string;
  type: ClientType;
  /** Sealed with the key-encryption key; oidc-provider compares secrets itself, so a hash won't do. */
  secretEncrypted: string | null;
  redirectUris: string[];
  postLogoutRedirectUris: string[];
  firstParty: boolean;
  /** Lets accounts whose email is not yet verified finish a sign-in to this client. */
  allowUnverifiedEmail: boolean;
  /** Every sign-in for this client needs a second factor. */
  requireMfa: boolean;
  createdAt: Date;
  updatedAt: Date;
}

export const ClientEntity = new EntitySchema<Client>({
  name: 'Client',
  tableName: 'clients',
  columns: {
    clientId: { name: 'client_id', type: 'text', primary: true },
    name: { type: 'text' },
    type: { type: 'text' },
    secretEncrypted: { name: 'secret_encrypted', type: 'text', nullable: true },
    redirectUris: { name: 'redirect_uris', type: 'text', array: true, default: () => `'{}'` },
    postLogoutRedirectUris: { name: 'post_logout_redirect_uris', type: 'text', array: true, default: () => `'{}'` },
    firstParty: { name: 'first_party', type: 'boolean', default: false },
    allowUnverifiedEmail: { name: 'allow_unverified_email', type: 'boolean', default: false },
    requireMfa: { name: 'require_mfa', type: 'boolean', default: false },
    createdAt: { name: 'created_at', type: 'timestamptz', createDate: true },
    updatedAt: { name: 'updated_at', type: 'timestamptz', updateDate: true },
  },
});
