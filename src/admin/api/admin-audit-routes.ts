import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import type { AuditService } from '../../audit/audit-service.js';
import { defineRoute, type RegisteredRoute } from './admin-route.js';
import { pageOf, toJson } from './admin-schemas.js';

type Auth = (ctx: Context, next: () => Promise<void>) => Promise<void>;

/** One audit event as readers see it (the chain's hashes are for `audit verify` and exports). */
export const auditEventSchema = z.object({
  id: z.string(),
  occurredAt: z.string().describe('ISO 8601'),
  type: z.string(),
  actor: z.string().nullable(),
  accountId: z.string().nullable(),
  clientId: z.string().nullable(),
  ip: z.string().nullable(),
  userAgent: z.string().nullable(),
  details: z.record(z.string(), z.unknown()),
});

const instant = z.union([z.iso.datetime({ offset: true }), z.iso.date()]).describe('ISO 8601 date or date-time');

export const auditQuerySchema = z.object({
  accountId: z.uuid().optional(),
  actor: z.string().min(1).max(300).optional(),
  type: z.string().min(1).max(100).optional(),
  clientId: z.string().min(1).max(200).optional(),
  since: instant.optional(),
  until: instant.optional(),
  cursor: z.string().max(100).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});

/** /audit-events: the audit trail, newest first, filtered, paged by an opaque cursor (keyset on the id). */
export function registerAuditRoutes(router: Router, registry: RegisteredRoute[], auth: Auth, audit: Pick<AuditService<unknown>, 'query'>): void {
  defineRoute(router, registry, auth, {
    method: 'get', path: '/audit-events', summary: 'List audit events, newest first; every filter given must match (since inclusive, until exclusive)',
    scope: 'admin:read', errors: [422], query: auditQuerySchema,
    response: { name: 'AuditEventPage', schema: pageOf(auditEventSchema) },
    async handle({ query }) {
      const page = await audit.query({
        ...query, since: query.since ? new Date(query.since) : undefined, until: query.until ? new Date(query.until) : undefined,
      });
      return { items: page.items.map((event) => auditEventSchema.parse(toJson(event))), nextCursor: page.nextCursor };
    },
  });
}
