import { z } from 'zod';
import { adminScopes } from './admin-api.js';
import type { RegisteredRoute } from './admin-route.js';

/** `{ error, error_description }`: every admin API error answer. */
export const errorSchema = z.object({ error: z.string(), error_description: z.string() });

const statusText: Record<number, string> = {
  400: 'Malformed request', 401: 'Missing or invalid credentials', 403: 'The credential lacks the scope', 404: 'Not found',
  409: 'Conflict', 412: 'If-Match does not match the current ETag', 415: 'Not JSON', 422: 'Validation failed', 428: 'If-Match is required', 429: 'Too many requests from this address (rateLimits.adminApiPerIp); see Retry-After',
};

/** JSON Schema 2020-12, which OpenAPI 3.1 uses as is. */
function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): Record<string, unknown> {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Record<string, unknown>;
  return rest;
}

function parameters(schema: z.ZodType | undefined, where: 'path' | 'query') {
  if (!schema) return [];
  const described = jsonSchema(schema, 'input') as { properties?: Record<string, unknown>; required?: string[] };
  return Object.entries(described.properties ?? {}).map(([name, property]) => ({
    name, in: where, required: where === 'path' || (described.required ?? []).includes(name), schema: property,
  }));
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

/** The OpenAPI 3.1 document of the admin API, generated from the routes' own zod schemas. */
export function buildOpenApi(routes: readonly RegisteredRoute[], { issuer, prefix }: { issuer: string; prefix: string }) {
  const schemas: Record<string, unknown> = { Error: jsonSchema(errorSchema, 'output') };
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    if (route.body) schemas[route.body.name] = jsonSchema(route.body.schema, 'input');
    if (route.response) schemas[route.response.name] = jsonSchema(route.response.schema, 'output');
    const path = route.path.replace(/:(\w+)/g, '{$1}');
    const success = String(route.status ?? (route.response ? 200 : 204));
    const responses: Record<string, unknown> = {
      [success]: route.response
        ? { description: 'OK', ...(route.etag ? { headers: { ETag: { schema: { type: 'string' } } } } : {}), content: { 'application/json': { schema: ref(route.response.name) } } }
        : { description: 'No content' },
    };
    for (const status of [401, 403, ...route.errors, 429]) responses[String(status)] = { description: statusText[status] ?? 'Error', content: { 'application/json': { schema: ref('Error') } } };
    (paths[path] ??= {})[route.method] = {
      operationId: `${route.method}${path.replace(/[{}]/g, '').split('/').map((part) => part.charAt(0).toUpperCase() + part.slice(1)).join('').replace(/[^A-Za-z0-9]/g, '')}`,
      summary: route.summary,
      security: [{ bearer: [route.scope] }, { apiKey: [] }],
      parameters: [...parameters(route.params, 'path'), ...parameters(route.query, 'query'),
        ...(route.method === 'patch' || route.method === 'put' ? [{ name: 'If-Match', in: 'header', required: true, description: 'The ETag of the resource, from a GET or the last change', schema: { type: 'string' } }] : [])],
      ...(route.body ? { requestBody: { required: !route.bodyOptional, content: { 'application/json': { schema: ref(route.body.name) } } } } : {}),
      responses,
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Portcullis admin API', version: '1' },
    servers: [{ url: `${issuer.replace(/\/$/, '')}${prefix}` }],
    paths,
    components: {
      schemas,
      securitySchemes: {
        bearer: {
          type: 'oauth2', description: `JWT access token for the resource ${issuer.replace(/\/$/, '')}/admin/api (client credentials; the admin role)`,
          flows: { clientCredentials: { tokenUrl: `${issuer.replace(/\/$/, '')}/token`, scopes: Object.fromEntries(adminScopes.map((scope) => [scope, scope === 'admin:read' ? 'Read' : 'Change'])) } },
        },
        apiKey: { type: 'http', scheme: 'bearer', bearerFormat: 'pcl_ API key', description: 'An admin API key (api = the admin API, scopes admin:read/admin:write)' },
      },
    },
  };
}
