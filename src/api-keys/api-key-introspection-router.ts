import Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import type { ClientService } from '../clients/client-service.js';
import { readForm } from '../http/form-body.js';
import type { RateLimits } from '../http/rate-limit.js';
import type { ApiKeyService } from './api-key-service.js';

const bodySchema = z.object({ token: z.string().max(200).optional() });

/** HTTP Basic client credentials, form-decoded as RFC 6749 §2.3.1 asks; undefined when absent or malformed. */
function basicCredentials(header: string | undefined): { clientId: string; secret: string } | undefined {
  const match = /^Basic ([A-Za-z0-9+/=]+)$/i.exec(header ?? '');
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 1) return undefined;
  try {
    return { clientId: decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, ' ')), secret: decodeURIComponent(decoded.slice(colon + 1).replace(/\+/g, ' ')) };
  } catch {
    return undefined;
  }
}

function unauthorized(ctx: Context): void {
  ctx.status = 401;
  ctx.set('WWW-Authenticate', 'Basic realm="api-keys", charset="UTF-8"');
  ctx.body = { error: 'invalid_client', error_description: 'client authentication failed' };
}

export interface ApiKeyIntrospectionDeps {
  apiKeys: ApiKeyService; clients: ClientService; rateLimits: RateLimits;
  /** `introspection.resourceServers`: the only clients that may ask about API keys. */
  config: { introspection: { resourceServers: readonly string[] } };
}

/**
 * POST /api-keys/introspect: a resource server, authenticated as a confidential client named in
 * `introspection.resourceServers`, asks whether an API key is active; the answer has the shape
 * of RFC 7662 §2.2. Any other client is refused: an API key is nobody else's business (§4).
 */
export function createApiKeyIntrospectionRouter(deps: ApiKeyIntrospectionDeps): Router {
  const { apiKeys, clients, rateLimits, config } = deps;
  const router = new Router();
  router.post('/api-keys/introspect', async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    await rateLimits.consume('apiKeyIntrospectPerIp', ctx.state.clientIp ?? ctx.ip);
    const credentials = basicCredentials(ctx.get('authorization'));
    if (!credentials || !(await clients.authenticate(credentials.clientId, credentials.secret))) return unauthorized(ctx);
    if (!config.introspection.resourceServers.includes(credentials.clientId)) {
      ctx.status = 403;
      ctx.body = {
        error: 'unauthorized_client',
        error_description: 'only resource servers (config introspection.resourceServers) may introspect API keys',
      };
      return;
    }
    const parsed = bodySchema.safeParse(await readForm(ctx));
    if (!parsed.success || !parsed.data.token) {
      ctx.status = 400;
      ctx.body = { error: 'invalid_request', error_description: 'the token parameter is missing' };
      return;
    }
    // The resource server's own view of the caller is not known here, so no IP is recorded for introspection.
    const key = await apiKeys.verify(parsed.data.token, null);
    ctx.body = key ? {
      active: true,
      scope: key.scopes.join(' '),
      client_id: key.clientId,
      ...(key.accountId ? { sub: key.accountId } : {}),
      ...(key.expiresAt ? { exp: Math.floor(key.expiresAt.getTime() / 1000) } : {}),
      iat: Math.floor(key.createdAt.getTime() / 1000),
      token_type: 'api_key',
      ...(key.api ? { aud: key.api } : {}),
    } : { active: false };
  });
  return router;
}
