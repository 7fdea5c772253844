import type { Middleware } from 'koa';
import type { Config } from '../config/schema.js';

/** /theme.css: the configured colours as CSS variables (an inline style would break the CSP). */
export function themeStylesheet(branding: Config['branding']): Middleware {
  const css = `:root { --accent: ${branding.primaryColor}; }\n`;
  return async (ctx, next) => {
    if (ctx.path !== '/theme.css') return next();
    ctx.type = 'text/css; charset=utf-8';
    ctx.set('Cache-Control', 'public, max-age=300');
    ctx.body = css;
  };
}
