import { EntitySchema } from 'typeorm';

/** What the sessions page knows about one oidc-provider Session, keyed by its stable uid. */
export interface SessionMetadata {
  sessionUid: string;
  accountId: string;
  /** The Session's current id (the cookie value); renewed at each sign-in. */
  sessionId: string | null;
  userAgent: string | null;
  ip: string | null;
  createdAt: Date;
  lastActiveAt: Date;
  /** Absolute end: sign-in time plus the session lifetime (ttl.session, or rememberMeDays). */
  expiresAt: Date;
}

export const SessionMetadataEntity = new EntitySchema<SessionMetadata>({
  name: 'SessionMetadata',
  tableName: 'session_metadata',
  columns: {
    sessionUid: { name: 'session_uid', type: 'text', primary: true },
    accountId: { name: 'account_id', type: 'uuid' },
    sessionId: { name: 'session_id', type: 'text', nullable: true },
    userAgent: { name: 'user_agent', type: 'text', nullable: true },
    ip: { type: 'text', nullable: true },
    createdAt: { name: 'created_at', type: 'timestamptz' },
    lastActiveAt: { name: 'last_active_at', type: 'timestamptz' },
    expiresAt: { name: 'expires_at', type: 'timestamptz' },
  },
});
