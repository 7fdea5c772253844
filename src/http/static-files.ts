import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Middleware } from 'koa';
import { projectRoot } from '../config/load-config.js';

const types: Record<string, string> = { '.css': 'text/css; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.svg': 'image/svg+xml', '.png': 'image/png', '.woff2': 'font/woff2' };

/**
 * The only node_modules files the browser may fetch, under /static/vendor/<name>. An explicit
 * map, not a directory: nothing else in node_modules is reachable and names never become paths.
 * zxcvbn-ts: the self-contained classic-script bundles (their ES builds import bare specifiers,
 * which a browser can't resolve without a bundler). altcha: the "external" build, which neither
 * injects an inline <style> nor starts blob: workers, so it runs under our strict CSP.
 */
export const vendorFiles: Readonly<Record<string, string>> = Object.freeze({
  'zxcvbn-core.js': '@zxcvbn-ts/core/dist/zxcvbn-ts.js',
  'zxcvbn-language-common.js': '@zxcvbn-ts/language-common/dist/zxcvbn-ts.js',
  'zxcvbn-language-en.js': '@zxcvbn-ts/language-en/dist/zxcvbn-ts.js',
  'altcha.js': 'altcha/dist/external/altcha.min.js',
  'altcha.css': 'altcha/dist/external/altcha.css',
  'altcha-worker-sha.js': 'altcha/dist/workers/sha.js',
  // The UMD bundle (global SimpleWebAuthnBrowser): its esm/ build is split into relative imports.
  'simplewebauthn-browser.js': '@simplewebauthn/browser/dist/bundle/index.umd.min.js',
});

const vendorPrefix = '/static/vendor/';

/**
 * Serves views/static/ under /static/ (flat file names only, no traversal) and the
 * allow-listed vendor files under /static/vendor/.
 */
export function staticFiles(dir: string, nodeModulesDir = path.join(projectRoot, 'node_modules')): Middleware {
  return async (ctx, next) => {
    if (!ctx.path.startsWith('/static/') || (ctx.method !== 'GET' && ctx.method !== 'HEAD')) return next();
    let file: string;
    if (ctx.path.startsWith(vendorPrefix)) {
      const name = ctx.path.slice(vendorPrefix.length);
      // hasOwn: "constructor" or "__proto__" must not resolve through the prototype.
      if (!Object.hasOwn(vendorFiles, name)) return next();
      file = path.join(nodeModulesDir, vendorFiles[name]!);
    } else {
      const name = ctx.path.slice('/static/'.length);
      if (!/^[\w.-]+$/.test(name) || name.startsWith('.')) return next();
      file = path.join(dir, name);
    }
    const type = types[path.extname(file)];
    if (!type) return next();
    try {
      ctx.body = await readFile(file);
    } catch {
      return next();
    }
    ctx.type = type;
    ctx.set('Cache-Control', 'public, max-age=3600');
  };
}
