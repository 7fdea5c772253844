import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import { NotFoundError } from '../../errors/app-error.js';
import { tr } from '../../interactions/page-context.js';
import { refusalText, type ConsoleDeps, type ConsoleKit } from './console-kit.js';

const pageSize = 50;
const uuid = z.uuid();
const filterQuery = z.object({
  account: z.string().trim().max(320).optional().catch(undefined),
  actor: z.string().trim().max(200).optional().catch(undefined),
  type: z.string().trim().max(100).optional().catch(undefined),
  cursor: z.string().max(200).optional().catch(undefined),
});

/** /admin/audit: the trail, newest first, filtered by account, actor or type, paged towards older events. */
export function registerAuditPages(router: Router, kit: ConsoleKit, { container }: ConsoleDeps): void {
  const { audit, accounts } = container;

  /** The account a filter names by id or email; undefined when it names none. */
  async function accountIdOf(reference: string): Promise<string | undefined> {
    if (uuid.safeParse(reference).success) return reference;
    if (!reference.includes('@')) return undefined;
    return (await accounts.show(reference).catch((error: unknown) => {
      if (error instanceof NotFoundError) return undefined;
      throw error;
    }))?.id;
  }

  router.get('/audit', async (ctx: Context) => {
    const filter = filterQuery.parse(ctx.query);
    const values = { account: filter.account ?? '', actor: filter.actor ?? '', type: filter.type ?? '' };
    const show = (locals: Record<string, unknown>, status = 200) =>
      kit.page(ctx, 'audit', 'audit', 'pages.admin.audit.title', { values, events: [], older: undefined, paged: false, errors: {}, ...locals }, status);
    const accountId = filter.account ? await accountIdOf(filter.account) : undefined;
    if (filter.account && !accountId) return show({ errors: { account: tr(ctx, 'pages.admin.audit.no_account') } });
    let page;
    try {
      page = await audit.query({ accountId, actor: filter.actor || undefined, type: filter.type || undefined, cursor: filter.cursor, limit: pageSize });
    } catch (error) {
      return show({ formError: refusalText(ctx, error) }, 400);
    }
    const kept = Object.fromEntries(Object.entries(values).filter(([, value]) => value));
    const older = page.nextCursor ? `/admin/audit?${new URLSearchParams({ ...kept, cursor: page.nextCursor })}` : undefined;
    await show({ events: page.items, older, paged: Boolean(filter.cursor) });
  });
}
