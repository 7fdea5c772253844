import path from 'node:path';
import ejs from 'ejs';
import type { Context } from 'koa';
import { projectRoot } from '../config/load-config.js';
import type { Config } from '../config/schema.js';
import { translator, type Locale } from '../i18n/i18n.js';

export const viewsDir = path.join(projectRoot, 'views');

export interface Renderer {
  /** Renders views/<view>.ejs inside views/_layout.ejs as the response body. */
  (ctx: Context, view: string, locals?: Record<string, unknown>, status?: number): Promise<void>;
}

/** EJS pages with one layout, in the request's language; templates are cached outside development. */
export function createRenderer({ branding, cache }: { branding: Config['branding']; cache: boolean }): Renderer {
  return async (ctx, view, locals = {}, status = 200) => {
    const locale = (ctx.state.locale as Locale | undefined) ?? branding.defaultLocale;
    const t = translator(locale);
    const shared = {
      t, locale, branding, productName: branding.productName,
      nonce: ctx.state.cspNonce as string, csrfToken: ctx.state.csrfToken as string | undefined,
      title: branding.productName, errors: {}, ...locals,
    };
    const body = await ejs.renderFile(path.join(viewsDir, `${view}.ejs`), shared, { cache, async: true, views: [viewsDir] });
    ctx.status = status;
    ctx.type = 'html';
    ctx.set('Cache-Control', 'no-store');
    ctx.body = await ejs.renderFile(path.join(viewsDir, '_layout.ejs'), { ...shared, body }, { cache, async: true, views: [viewsDir] });
  };
}
