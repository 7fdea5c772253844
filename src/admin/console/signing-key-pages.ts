import type Router from '@koa/router';
import { z } from 'zod';
import type { ConsoleDeps, ConsoleKit } from './console-kit.js';

const rotateForm = z.object({ immediate: z.literal('on').optional() });

/** /admin/keys: the published signing keys and their state; rotation (scheduled, or at once). */
export function registerSigningKeyPages(router: Router, kit: ConsoleKit, { container }: ConsoleDeps): void {
  const { keys, config } = container;

  router.get('/keys', async (ctx) => kit.page(ctx, 'keys', 'keys', 'pages.admin.keys.title', {
    keys: await keys.list(), leadSeconds: config.keys.publishLeadSeconds,
  }));

  router.post('/keys/rotate', async (ctx) => {
    const form = await kit.postedForm(ctx);
    const { immediate } = rotateForm.catch({}).parse(form);
    await keys.rotate(kit.actor(ctx), { immediate: immediate === 'on' });
    kit.seeOther(ctx, '/admin/keys', 'rotated');
  });
}
