import path from 'node:path';
import Koa from 'koa';
import { createAccountRouter } from '../account/account-router.js';
import { createApiKeysRouter } from '../account/api-keys-router.js';
import { createSecurityRouter } from '../account/security-router.js';
import { createSessionsRouter } from '../account/sessions-router.js';
import { createAdminApi } from '../admin/api/admin-router.js';
import { createAdminConsole } from '../admin/console/admin-console.js';
import { createApiKeyIntrospectionRouter } from '../api-keys/api-key-introspection-router.js';
import { createCaptchaRouter } from '../captcha/captcha-router.js';
import { createSetupRouter } from '../setup/setup-router.js';
import type { Container } from '../container.js';
import { negotiateLocale } from '../i18n/i18n.js';
import { createInteractionRouter } from '../interactions/interaction-router.js';
import type { InteractionDeps } from '../interactions/interaction-deps.js';
import { createRecoveryRouter } from '../interactions/recovery-router.js';
import type { ProviderHost } from '../oidc/provider.js';
import { createCsrf } from './csrf.js';
import { errorHandler } from './error-handler.js';
import { hostileInput } from './hostile-input.js';
import { issuerPin } from './issuer-pin.js';
import { createHealthRouter, type ReadinessCheck } from './health-router.js';
import { viewsDir, type Renderer } from './render.js';
import { requestContext } from './request-context.js';
import { gatedRouter } from './router-gate.js';
import { securityHeaders } from './security-headers.js';
import { staticFiles } from './static-files.js';
import { themeStylesheet } from './theme.js';

export interface AppDeps {
  container: Container;
  host: ProviderHost;
  render: Renderer;
  readiness: ReadinessCheck[];
  isDraining: () => boolean;
}

/** Builds the Koa app; it never reads the environment and never listens, so tests build it in-process. */
export function createApp({ container, host, render, readiness, isDraining }: AppDeps): Koa {
  const { config, logger } = container;
  const https = config.issuer.startsWith('https://');
  const app = new Koa({ keys: config.secrets.cookieKeys });
  app.silent = true;
  // requestContext strips X-Forwarded-* from untrusted peers, so what remains came from a trusted proxy.
  app.proxy = true;
  const csrf = createCsrf(config.secrets.cookieKeys[0]!, { secure: https });
  // The account pages' navigation offers "API keys" only when people may hold their own.
  const pageRender: Renderer = (ctx, view, locals = {}, status) => render(ctx, view, { personalApiKeys: config.apiKeys.personal, ...locals }, status);
  const deps: InteractionDeps = { ...container, host, csrf, render: pageRender };
  const routers = [
    createHealthRouter(readiness, isDraining),
    createSetupRouter({ setup: container.setup, csrf, render, config }),
    createCaptchaRouter(container.captcha, container.altchaDifficulty),
    createApiKeyIntrospectionRouter(container),
    createInteractionRouter(deps),
    createRecoveryRouter(deps),
    createSecurityRouter(deps),
    createSessionsRouter(deps),
    createApiKeysRouter({ ...deps, apiKeys: container.apiKeys, apis: container.apis, permissions: container.rbac, limiterFactory: container.limiterFactory }),
    createAccountRouter(deps),
  ];

  app.use(requestContext(logger, config.http.trustedProxies));
  app.use(securityHeaders({ https, captcha: container.captcha.widget(), logoUrl: config.branding.logoUrl }));
  app.use(async (ctx, next) => {
    ctx.state.locale = negotiateLocale(ctx.get('accept-language'), config.branding.defaultLocale);
    await next();
  });
  app.use(errorHandler(render, { retryAfterSeconds: config.http.retryAfterSeconds, health: container.health }));
  app.use(issuerPin(config.issuer));
  app.use(hostileInput());
  app.use(createAdminApi(container));
  // Pages under /admin; it passes /admin/api/* on untouched, whatever the API above left unanswered.
  app.use(createAdminConsole({ container, host, csrf, render }));
  app.use(staticFiles(path.join(viewsDir, 'static')));
  app.use(themeStylesheet(config.branding));
  for (const router of routers) app.use(gatedRouter(router));
  app.use(host.middleware);
  return app;
}
