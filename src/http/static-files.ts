import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Middleware } from 'koa';

const types: Record<string, string> = { '.css': 'text/css; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.svg': 'image/svg+xml', '.png': 'image/png', '.woff2': 'font/woff2' };

/** Serves views/static/ under /static/: flat file names only, no traversal. */
export function staticFiles(dir: string): Middleware {
  return async (ctx, next) => {
    if (!ctx.path.startsWith('/static/') || (ctx.method !== 'GET' && ctx.method !== 'HEAD')) return next();
    const name = ctx.path.slice('/static/'.length);
    const type = types[path.extname(name)];
    if (!/^[\w.-]+$/.test(name) || name.startsWith('.') || !type) return next();
    try {
      ctx.body = await readFile(path.join(dir, name));
    } catch {
      return next();
    }
    ctx.type = type;
    ctx.set('Cache-Control', 'public, max-age=3600');
  };
}
