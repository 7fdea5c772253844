import path from 'node:path';
import Koa from 'koa';
import type { AccountService } from '../accounts/account-service.js';
import type { ResolvedConfig } from '../config/schema.js';
import { createInteractionRouter } from '../interactions/interaction-router.js';
import type { Logger } from '../infra/logger.js';
import type { ProviderHost } from '../oidc/provider.js';
import { createCsrf } from './csrf.js';
import { errorHandler } from './error-handler.js';
import { createHealthRouter, type ReadinessCheck } from './health-router.js';
import { viewsDir, type Renderer } from './render.js';
import { requestContext } from './request-context.js';
import { securityHeaders } from './security-headers.js';
import { staticFiles } from './static-files.js';

export interface AppDeps {
  config: ResolvedConfig;
  logger: Logger;
  host: ProviderHost;
  accounts: AccountService;
  render: Renderer;
  readiness: ReadinessCheck[];
  isDraining: () => boolean;
}

/** Builds the Koa app; it never reads the environment and never listens, so tests build it in-process. */
export function createApp(deps: AppDeps): Koa {
  const { config, logger, host, render } = deps;
  const https = config.issuer.startsWith('https://');
  const app = new Koa({ keys: config.secrets.cookieKeys });
  app.silent = true;
  // requestContext strips X-Forwarded-* from untrusted peers, so what remains came from a trusted proxy.
  app.proxy = true;
  const csrf = createCsrf(config.secrets.cookieKeys[0]!, { secure: https });
  const health = createHealthRouter(deps.readiness, deps.isDraining);
  const interactions = createInteractionRouter({ host, accounts: deps.accounts, csrf, render });

  app.use(requestContext(logger, config.http.trustedProxies));
  app.use(securityHeaders({ https }));
  app.use(errorHandler(render));
  app.use(staticFiles(path.join(viewsDir, 'static')));
  app.use(health.routes());
  app.use(interactions.routes());
  app.use(interactions.allowedMethods());
  app.use(host.middleware);
  return app;
}
