import { EntitySchema } from 'typeorm';
import type { AuditEvent } from './audit-chain.js';

/**
 * `audit_events`: an append-only hash chain (the database refuses UPDATE, DELETE and TRUNCATE).
 * Table, indexes and trigger come from migrations/1795000000000-Initial.ts.
 */
export const AuditEventEntity = new EntitySchema<AuditEvent>({
  name: 'AuditEvent',
  tableName: 'audit_events',
  columns: {
    // bigserial: the driver returns bigint as a string, which keeps ids exact past 2^53.
    id: { type: 'bigint', primary: true, generated: 'increment' },
    occurredAt: { name: 'occurred_at', type: 'timestamptz' },
    type: { type: 'text' },
    actor: { type: 'text', nullable: true },
    accountId: { name: 'account_id', type: 'uuid', nullable: true },
    clientId: { name: 'client_id', type: 'text', nullable: true },
    ip: { type: 'text', nullable: true },
    userAgent: { name: 'user_agent', type: 'text', nullable: true },
    details: { type: 'jsonb', default: () => `'{}'` },
    prevHash: { name: 'prev_hash', type: 'text' },
    hash: { type: 'text', unique: true },
  },
});
