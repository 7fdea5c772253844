import Router from '@koa/router';
import Koa from 'koa';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatedRouter } from '../../src/http/router-gate.js';

let base: string;
let server: http.Server;
const visited: string[] = [];

beforeAll(async () => {
  const app = new Koa();
  const prefixed = new Router({ prefix: '/account' });
  prefixed.use(async (ctx, next) => { visited.push(`account-mw ${ctx.path}`); await next(); });
  prefixed.get('/profile', (ctx) => { ctx.body = 'profile'; });
  const plain = new Router();
  plain.get('/forgot-password', (ctx) => { ctx.body = 'forgot'; });
  app.use(gatedRouter(prefixed));
  app.use(gatedRouter(plain));
  app.use((ctx) => { if (ctx.path === '/token') ctx.body = 'fallthrough /token'; });
  server = http.createServer(app.callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise((resolve) => server.close(resolve)));

const get = async (path: string, method = 'GET') => {
  const response = await fetch(base + path, { method });
  return { status: response.status, body: await response.text(), allow: response.headers.get('allow') };
};

describe('gated routers', () => {
  it('still route their own paths, any case, and answer 405 with Allow for other methods', async () => {
    expect(await get('/account/profile')).toMatchObject({ status: 200, body: 'profile' });
    expect(await get('/Account/Profile')).toMatchObject({ status: 200, body: 'profile' });
    expect(await get('/forgot-password')).toMatchObject({ status: 200, body: 'forgot' });
    expect(await get('/account/profile', 'DELETE')).toMatchObject({ status: 405, allow: 'HEAD, GET' });
  });

  it('pass other paths on without running their middleware', async () => {
    visited.length = 0;
    expect(await get('/token')).toMatchObject({ status: 200, body: 'fallthrough /token' });
    expect(visited).toEqual([]);
    expect(await get('/account/profile')).toMatchObject({ status: 200, body: 'profile' });
    expect(visited).toEqual(['account-mw /account/profile']);
  });
});
