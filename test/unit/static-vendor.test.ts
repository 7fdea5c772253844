import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import Koa from 'koa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../src/config/load-config.js';
import { staticFiles, vendorFiles } from '../../src/http/static-files.js';

interface RawResponse { status: number; type?: string; body: Buffer }

/** A GET with the path sent exactly as written: fetch would resolve "..", a hostile client won't. */
function rawGet(port: number, requestPath: string): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: requestPath }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'], body: Buffer.concat(chunks) }));
    }).on('error', reject);
  });
}

async function serve(staticDir: string, nodeModulesDir?: string): Promise<{ port: number; server: http.Server }> {
  const app = new Koa();
  app.use(staticFiles(staticDir, nodeModulesDir));
  const server = http.createServer(app.callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, server };
}

describe('static files and the vendor allow-list', () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'portcullis-static-'));
  const staticDir = path.join(tmp, 'static');
  let real: { port: number; server: http.Server };
  let fake: { port: number; server: http.Server };

  beforeAll(async () => {
    mkdirSync(staticDir);
    writeFileSync(path.join(staticDir, 'site.css'), 'body{}');
    // A node_modules with a file that is NOT on the list, beside one that is.
    const fakeModules = path.join(tmp, 'node_modules');
    mkdirSync(path.join(fakeModules, 'altcha/dist/external'), { recursive: true });
    writeFileSync(path.join(fakeModules, 'altcha/dist/external/altcha.min.js'), '/* widget */');
    writeFileSync(path.join(fakeModules, 'secret.js'), 'secret');
    writeFileSync(path.join(tmp, 'package.json'), '{"private":true}');
    real = await serve(staticDir);
    fake = await serve(staticDir, fakeModules);
  });
  afterAll(async () => {
    await Promise.all([real, fake].map(({ server }) => new Promise((resolve) => server.close(resolve))));
    rmSync(tmp, { recursive: true, force: true });
  });

  it('serves every allow-listed vendor file, byte for byte, with a script or style type', async () => {
    expect(Object.keys(vendorFiles).sort()).toEqual([
      'altcha-worker-sha.js', 'altcha.css', 'altcha.js', 'simplewebauthn-browser.js', 'zxcvbn-core.js', 'zxcvbn-language-common.js', 'zxcvbn-language-en.js']);
    for (const [name, file] of Object.entries(vendorFiles)) {
      const response = await rawGet(real.port, `/static/vendor/${name}`);
      expect(response.status, name).toBe(200);
      expect(response.type).toMatch(name.endsWith('.css') ? /^text\/css/ : /^text\/javascript/);
      expect(response.body.equals(readFileSync(path.join(projectRoot, 'node_modules', file)))).toBe(true);
    }
  });

  it('still serves views/static files by flat name', async () => {
    expect((await rawGet(real.port, '/static/site.css')).body.toString()).toBe('body{}');
  });

  it('serves nothing else from node_modules and refuses traversal', async () => {
    expect((await rawGet(fake.port, '/static/vendor/altcha.js')).body.toString()).toBe('/* widget */');
    for (const attempt of [
      '/static/vendor/secret.js',
      '/static/vendor/altcha/dist/external/altcha.min.js',
      '/static/vendor/@zxcvbn-ts/core/dist/zxcvbn-ts.js',
      '/static/vendor/../secret.js',
      '/static/vendor/../../package.json',
      '/static/vendor/..%2fsecret.js',
      '/static/vendor/%2e%2e/%2e%2e/package.json',
      '/static/vendor/altcha.js/../../secret.js',
      '/static/vendor//secret.js',
      '/static/vendor/constructor',
      '/static/vendor/__proto__',
      '/static/vendor/hasOwnProperty',
      '/static/vendor/zxcvbn-core.js.map',
      '/static/vendor/',
      '/static/../package.json',
      '/static/..%2fpackage.json',
    ]) {
      const response = await rawGet(fake.port, attempt);
      expect(response.status, attempt).toBe(404);
      expect(response.body.toString(), attempt).not.toMatch(/secret|private/);
    }
  });

  it('answers only GET and HEAD', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      http.request({ host: '127.0.0.1', port: real.port, path: '/static/vendor/altcha.js', method: 'POST' }, (res) => { res.resume(); resolve(res.statusCode ?? 0); })
        .on('error', reject).end();
    });
    expect(status).toBe(404);
  });
});
