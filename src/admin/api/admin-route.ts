import { createHash } from 'node:crypto';
import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import { AppError } from '../../errors/app-error.js';
import { readJson } from '../../http/form-body.js';
import type { AdminScope } from './admin-api.js';
import { requireScope, type AdminPrincipal } from './admin-auth.js';

type Maybe = z.ZodType | undefined;
type Out<T extends Maybe> = T extends z.ZodType ? z.output<T> : undefined;

/** A named schema: it becomes `#/components/schemas/<name>` in the OpenAPI document. */
export interface NamedSchema<T extends z.ZodType = z.ZodType> { name: string; schema: T }

/** One admin API operation: its schemas validate the request and the answer, and describe it in OpenAPI. */
export interface RouteSpec<P extends Maybe, Q extends Maybe, B extends Maybe, R extends z.ZodType> {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  /** Koa path below the prefix, e.g. `/clients/:clientId`. */
  path: string;
  summary: string;
  scope: AdminScope;
  params?: P;
  query?: Q;
  body?: NamedSchema<NonNullable<B>>;
  /** The body may be left out entirely (it then reads as `{}`), e.g. an action with only optional settings. */
  bodyOptional?: boolean;
  response?: NamedSchema<R>;
  /** The success status (200 by default, 204 without a response). */
  status?: number;
  /** The error statuses this operation can answer, listed in the document. */
  errors: number[];
  /** The response carries an ETag (a hash of its representation). */
  etag?: boolean;
  handle(input: { params: Out<P>; query: Out<Q>; body: Out<B>; admin: AdminPrincipal; ctx: Context }): Promise<z.input<R> | void>;
}

/** What the OpenAPI document needs of a registered route. */
export type RegisteredRoute = Omit<RouteSpec<Maybe, Maybe, Maybe, z.ZodType>, 'handle'>;

/** 422 for a request that doesn't match its schema; the description names the first field at fault. */
export class ValidationError extends AppError {
  constructor(location: 'params' | 'query' | 'body', error: z.ZodError) {
    const issue = error.issues[0]!;
    const field = [location, ...issue.path.map(String)].join('.');
    super('validation_failed', 422, `${field}: ${issue.message}`);
  }
}

function parse<T extends Maybe>(schema: T, value: unknown, location: 'params' | 'query' | 'body'): Out<T> {
  if (!schema) return undefined as Out<T>;
  const result = schema.safeParse(value);
  if (!result.success) throw new ValidationError(location, result.error);
  return result.data as Out<T>;
}

/** A strong ETag over the JSON representation (RFC 9110 §8.8.3). */
export function etagOf(representation: unknown): string {
  return `"${createHash('sha256').update(JSON.stringify(representation)).digest('base64url').slice(0, 27)}"`;
}

/** Whether the request carries a body at all (RFC 9112 §6.3: a length above 0, or chunked). */
function hasBody(ctx: Context): boolean {
  return Boolean(ctx.request.length) || Boolean(ctx.get('transfer-encoding'));
}

/** Registers one operation on the router and in `registry`, with validation of params, query, body and response. */
export function defineRoute<P extends Maybe, Q extends Maybe, B extends Maybe, R extends z.ZodType>(
  router: Router, registry: RegisteredRoute[], auth: (ctx: Context, next: () => Promise<void>) => Promise<void>, spec: RouteSpec<P, Q, B, R>,
): void {
  const { handle, ...described } = spec;
  registry.push(described as RegisteredRoute);
  router[spec.method](spec.path, auth, requireScope(spec.scope), async (ctx) => {
    const params = parse(spec.params as P, ctx.params, 'params');
    const query = parse(spec.query as Q, ctx.query, 'query');
    const body = spec.body ? parse(spec.body.schema as B, spec.bodyOptional && !hasBody(ctx) ? {} : await readJson(ctx), 'body') : undefined as Out<B>;
    const result = await handle({ params, query, body, admin: ctx.state.admin as AdminPrincipal, ctx });
    if (!spec.response) {
      ctx.status = spec.status ?? 204;
      return;
    }
    // Parsing the answer strips whatever the schema doesn't declare, so nothing leaks by accident.
    const representation = spec.response.schema.parse(result);
    if (spec.etag) ctx.set('ETag', etagOf(representation));
    ctx.status = spec.status ?? 200;
    ctx.body = representation;
  });
}

/** 412 unless `If-Match` names the current representation; 428 when it is missing (RFC 6585 §3). */
export function checkIfMatch(ctx: Context, current: unknown): void {
  ifMatch(ctx, (value: unknown) => value)(current);
}

/**
 * The If-Match precondition of a change, for the service to run inside its transaction on the
 * locked row, so the comparison and the update are one step: of two concurrent changes sent with
 * the same ETag, the second waits for the lock, sees the new representation and gets 412.
 * Throws 428 at once when the header is missing.
 */
export function ifMatch<T>(ctx: Context, represent: (current: T) => unknown): (current: T) => void {
  const header = ctx.get('if-match');
  if (!header) throw new AppError('precondition_required', 428, 'send If-Match with the ETag of the representation you are changing');
  // Strong comparison (RFC 9110 §13.1.1): a weak validator never matches.
  const tags = header.split(',').map((tag) => tag.trim());
  return (current) => {
    if (!tags.includes('*') && !tags.includes(etagOf(represent(current)))) {
      throw new AppError('precondition_failed', 412, 'the resource changed since you read it: fetch it again and retry');
    }
  };
}
