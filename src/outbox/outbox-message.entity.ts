import { EntitySchema } from 'typeorm';

/** pending → delivered, or → dead once the worker gives up (max attempts or max age). */
export type OutboxStatus = 'pending' | 'delivered' | 'dead';

/** One side effect waiting to leave: an email, a text message, or account work done off the request path. */
export interface OutboxMessage {
  id: string;
  /** Which handler delivers it: `email`, `sms`, or a job kind such as `password_reset_requested`. */
  kind: string;
  /** What the handler needs; for email a template, locale and locals, rendered at delivery. */
  payload: Record<string, unknown>;
  status: OutboxStatus;
  /** Deliveries started so far, counted when a worker claims the message. */
  attempts: number;
  nextAttemptAt: Date;
  /** The last failure's reason, reduced to safe text (never a message body or a link). */
  lastError: string | null;
  /** The account the message concerns, when known at enqueue (audit events name it). */
  accountId: string | null;
  /** When the current round of attempts began (enqueue, or an operator's retry); max age counts from it. */
  queuedAt: Date;
  createdAt: Date;
  updatedAt: Date;
  deliveredAt: Date | null;
}

/** `outbox_messages`, from migrations/1795000000013-Outbox.ts. */
export const OutboxMessageEntity = new EntitySchema<OutboxMessage>({
  name: 'OutboxMessage',
  tableName: 'outbox_messages',
  columns: {
    id: { type: 'uuid', primary: true, generated: 'uuid' },
    kind: { type: 'text' },
    payload: { type: 'jsonb' },
    status: { type: 'text', default: 'pending' },
    attempts: { type: 'integer', default: 0 },
    nextAttemptAt: { name: 'next_attempt_at', type: 'timestamptz' },
    lastError: { name: 'last_error', type: 'text', nullable: true },
    accountId: { name: 'account_id', type: 'uuid', nullable: true },
    queuedAt: { name: 'queued_at', type: 'timestamptz' },
    createdAt: { name: 'created_at', type: 'timestamptz', createDate: true },
    updatedAt: { name: 'updated_at', type: 'timestamptz', updateDate: true },
    deliveredAt: { name: 'delivered_at', type: 'timestamptz', nullable: true },
  },
});
