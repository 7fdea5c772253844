import Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import { AppError } from '../errors/app-error.js';
import { readForm } from '../http/form-body.js';
import type { InteractionDeps } from '../interactions/interaction-deps.js';
import { tr } from '../interactions/page-context.js';
import { requireSignedIn } from './signed-in.js';

const sessionUid = z.string().min(1).max(100).regex(/^[\w-]+$/);

/** /account/sessions: where the person is signed in, and signing those sessions out. */
export function createSessionsRouter(deps: InteractionDeps): Router {
  const { csrf, render, sessionService } = deps;
  const router = new Router({ prefix: '/account/sessions' });
  router.use(async (ctx, next) => {
    ctx.set('Cache-Control', 'no-store');
    await next();
  });
  router.use(csrf.issue);
  router.use(requireSignedIn(deps));

  async function page(ctx: Context, locals: Record<string, unknown> = {}, status = 200) {
    await render(ctx, 'account/sessions', {
      title: tr(ctx, 'pages.sessions.title'), account: ctx.state.account,
      sessions: await sessionService.list(ctx.state.account.id, ctx.state.sessionId), ...locals,
    }, status);
  }

  async function postedForm(ctx: Context) {
    const form = await readForm(ctx);
    csrf.verify(ctx, form.csrf);
    return form;
  }

  const by = (ctx: Context) => ({ actor: `account:${ctx.state.account.id}`, ip: ctx.state.clientIp, userAgent: ctx.get('user-agent') || undefined });

  router.get('/', (ctx) => page(ctx));

  // Declared before /:uid/end so "others" is never read as a session uid.
  router.post('/end-others', async (ctx) => {
    await postedForm(ctx);
    const ended = await sessionService.endAll(ctx.state.account.id, by(ctx), ctx.state.sessionId);
    await page(ctx, { notice: tr(ctx, 'pages.sessions.ended_others', { count: ended }) });
  });

  router.post('/:uid/end', async (ctx) => {
    await postedForm(ctx);
    const uid = sessionUid.safeParse(ctx.params.uid);
    if (!uid.success) throw new AppError('session_not_found', 404, tr(ctx, 'pages.sessions.not_found'));
    const sessions = await sessionService.list(ctx.state.account.id, ctx.state.sessionId);
    const target = sessions.find((session) => session.uid === uid.data);
    if (!target) return page(ctx, { formError: tr(ctx, 'pages.sessions.not_found') }, 404);
    await sessionService.end(ctx.state.account.id, uid.data, by(ctx));
    // Ending this browser's own session signs it out here too.
    if (target.current) return ctx.redirect('/account');
    await page(ctx, { notice: tr(ctx, 'pages.sessions.ended') });
  });

  return router;
}
