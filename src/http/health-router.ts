import Router from '@koa/router';

export interface ReadinessCheck { name: string; check(): Promise<void> }

/** /healthz: the process answers. /readyz: every dependency answers (PostgreSQL, Redis when used). */
export function createHealthRouter(checks: ReadinessCheck[], isDraining: () => boolean): Router {
  const router = new Router();
  router.get('/healthz', (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { status: 'ok' };
  });
  router.get('/readyz', async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    const results = await Promise.all(checks.map(async ({ name, check }) => {
      try {
        await check();
        return [name, 'ok'] as const;
      } catch {
        return [name, 'unavailable'] as const;
      }
    }));
    const ready = !isDraining() && results.every(([, state]) => state === 'ok');
    ctx.status = ready ? 200 : 503;
    ctx.body = { status: ready ? 'ok' : isDraining() ? 'draining' : 'unavailable', checks: Object.fromEntries(results) };
  });
  return router;
}
