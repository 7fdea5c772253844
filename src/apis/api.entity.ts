import { EntitySchema } from 'typeorm';

/** An API registered at run time (table `apis`); config and built-in APIs are not stored. */
export interface StoredApi {
  id: string;
  /** The resource indicator (RFC 8707): fixed once registered, as permissions and keys name it. */
  identifier: string;
  name: string;
  /** The only scopes a client may request for the API, and the only permissions a role may hold on it. */
  scopes: string[];
  accessTokenTtl: number;
  /** A token's scopes are limited to those the subject's roles allow. */
  rbac: boolean;
  /** Tokens only for clients allowed privileged APIs, and user tokens only after a second factor. */
  privileged: boolean;
  createdBy: string;
  createdAt: Date;
  updatedAt: Date;
}

export const ApiEntity = new EntitySchema<StoredApi>({
  name: 'Api',
  tableName: 'apis',
  columns: {
    id: { type: 'uuid', primary: true, generated: 'uuid' },
    identifier: { type: 'text', unique: true },
    name: { type: 'text' },
    scopes: { type: 'text', array: true, default: () => `'{}'` },
    accessTokenTtl: { name: 'access_token_ttl', type: 'integer' },
    rbac: { type: 'boolean', default: false },
    privileged: { type: 'boolean', default: false },
    createdBy: { name: 'created_by', type: 'text' },
    createdAt: { name: 'created_at', type: 'timestamptz', createDate: true },
    updatedAt: { name: 'updated_at', type: 'timestamptz', updateDate: true },
  },
});
