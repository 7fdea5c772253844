import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';

// ajv-formats is CommonJS: imported from ESM, the plugin is `module.exports`, which also carries itself as `default`.
type FormatsPlugin = (ajv: Ajv2020) => Ajv2020;
const addFormats = ((addFormatsModule as unknown as { default?: FormatsPlugin }).default ?? (addFormatsModule as unknown as FormatsPlugin));

interface MediaType { schema: Record<string, unknown> }
interface Response { description: string; content?: Record<string, MediaType> }
interface Operation { operationId: string; parameters?: Array<{ name: string; in: string; required?: boolean }>; requestBody?: { required?: boolean }; responses: Record<string, Response> }
export interface OpenApiDocument {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Record<string, unknown>>; securitySchemes: Record<string, unknown> };
}

export interface Answer<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  /** The parsed JSON body ({} when there is none). */
  body: T;
}

export interface CallOptions {
  token?: string;
  /** Path parameters, by the names in the template (`{accountId}`); encoded here. */
  params?: Record<string, string>;
  query?: Record<string, string | number | undefined>;
  /** Sent as JSON unless `rawBody` is given. */
  body?: unknown;
  rawBody?: { contentType: string; text: string };
  headers?: Record<string, string>;
}

const SCHEMA_ID = 'https://portcullis.test/admin-openapi';

/** Rewrites `#/components/schemas/X` to `<SCHEMA_ID>#/$defs/X`, so the components form one JSON Schema resource. */
function rewriteRefs(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(rewriteRefs);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key,
    key === '$ref' && typeof inner === 'string' ? inner.replace(/^#\/components\/schemas\//, `${SCHEMA_ID}#/$defs/`) : rewriteRefs(inner)]));
}

/**
 * A fetch wrapper for the admin REST API that checks every answer against the OpenAPI document
 * the server publishes: the status must be documented for the operation, and the body must be
 * valid against that response's JSON Schema (2020-12, with formats, $refs resolved into components).
 * It also records which (operation, status) pairs were seen, so a test can require all of them.
 */
export async function openApiClient(issuer: string, prefix = '/admin/api/v1') {
  const document = await (await fetch(new URL(`${prefix}/openapi.json`, issuer))).json() as OpenApiDocument;
  const ajv = new Ajv2020({ strict: true, allErrors: true });
  addFormats(ajv);
  ajv.addSchema({ $id: SCHEMA_ID, $defs: rewriteRefs(document.components.schemas) as Record<string, unknown> });
  const validators = new Map<string, ValidateFunction>();
  const seen = new Map<string, Set<number>>();

  function validatorFor(schema: Record<string, unknown>): ValidateFunction {
    const key = JSON.stringify(schema);
    let validate = validators.get(key);
    if (!validate) {
      validate = ajv.compile(rewriteRefs(schema) as Record<string, unknown>);
      validators.set(key, validate);
    }
    return validate;
  }

  function operation(method: string, template: string): Operation {
    const found = document.paths[template]?.[method.toLowerCase()];
    if (!found) throw new Error(`the OpenAPI document has no operation ${method} ${template}`);
    return found;
  }

  function urlFor(template: string, options: CallOptions): URL {
    const path = template.replace(/\{(\w+)\}/g, (_all, name: string) => {
      const value = options.params?.[name];
      if (value === undefined) throw new Error(`no value for path parameter ${name}`);
      return encodeURIComponent(value);
    });
    const url = new URL(`${prefix}${path}`, issuer);
    for (const [name, value] of Object.entries(options.query ?? {})) if (value !== undefined) url.searchParams.set(name, String(value));
    return url;
  }

  /** Calls `method template` and fails unless the answer is one the document describes. */
  async function call<T = Record<string, unknown>>(method: string, template: string, options: CallOptions = {}): Promise<Answer<T>> {
    const described = operation(method, template);
    const body = options.rawBody?.text ?? (options.body !== undefined ? JSON.stringify(options.body) : undefined);
    const response = await fetch(urlFor(template, options), {
      method,
      headers: {
        accept: 'application/json',
        ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
        ...(body !== undefined ? { 'content-type': options.rawBody?.contentType ?? 'application/json' } : {}),
        ...options.headers,
      },
      body,
    });
    const text = await response.text();
    const where = `${method} ${template} → ${response.status}`;
    const documented = described.responses[String(response.status)];
    if (!documented) throw new Error(`${where} is not documented (documented: ${Object.keys(described.responses).join(', ')}); body: ${text}`);
    const key = `${method.toLowerCase()} ${template}`;
    (seen.get(key) ?? seen.set(key, new Set()).get(key)!).add(response.status);
    const media = documented.content?.['application/json'];
    if (!media) {
      if (text !== '') throw new Error(`${where} documents no body but got: ${text}`);
      return { status: response.status, headers: response.headers, body: {} as T };
    }
    if (!/^application\/json\b/.test(response.headers.get('content-type') ?? '')) throw new Error(`${where} is not JSON: ${response.headers.get('content-type')}`);
    const parsed = JSON.parse(text) as unknown;
    const validate = validatorFor(media.schema);
    if (!validate(parsed)) throw new Error(`${where}: the body does not match the documented schema: ${ajv.errorsText(validate.errors)}; body: ${text}`);
    return { status: response.status, headers: response.headers, body: parsed as T };
  }

  /** Every documented (operation, status) pair of the operations under `pathPrefixes` that no call produced. */
  function unseen(pathPrefixes: readonly string[]): string[] {
    const missing: string[] = [];
    for (const [path, methods] of Object.entries(document.paths)) {
      if (!pathPrefixes.some((candidate) => path === candidate || path.startsWith(`${candidate}/`))) continue;
      for (const [method, described] of Object.entries(methods)) {
        for (const status of Object.keys(described.responses)) {
          // 429 is documented on every operation and proven once, by the admin API rate-limit test.
          if (status === '429') continue;
          if (!seen.get(`${method} ${path}`)?.has(Number(status))) missing.push(`${method} ${path} ${status}`);
        }
      }
    }
    return missing;
  }

  /** The operations (method and path template) under the prefixes. */
  function operations(pathPrefixes: readonly string[]): Array<{ method: string; path: string; operation: Operation }> {
    return Object.entries(document.paths)
      .filter(([path]) => pathPrefixes.some((candidate) => path === candidate || path.startsWith(`${candidate}/`)))
      .flatMap(([path, methods]) => Object.entries(methods).map(([method, described]) => ({ method, path, operation: described })));
  }

  return { document, call, unseen, operations };
}

export type OpenApiClient = Awaited<ReturnType<typeof openApiClient>>;
