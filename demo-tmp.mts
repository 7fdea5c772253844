import http from 'node:http';
import { readFile } from 'node:fs/promises';
import Koa from 'koa';
import { chromium } from 'playwright-core';
import { pino } from 'pino';
import { securityHeaders } from './src/http/security-headers.js';
import { staticFiles } from './src/http/static-files.js';
import { readForm } from './src/http/form-body.js';
import { createCaptcha } from './src/captcha/captcha-service.js';
import { createCaptchaRouter } from './src/captcha/captcha-router.js';
import { createPasswordPolicy } from './src/accounts/password-policy.js';

const logger = pino({ level: 'warn' });
const used = new Set<string>();
const captcha = createCaptcha({ config: { provider: 'altcha', loginFailuresBeforeCaptcha: 3, altchaMaxNumber: 100000, challengeTtl: 600 }, hmacKey: 'demo-key-0123456789', markUsed: async (k) => (used.has(k) ? false : (used.add(k), true)), logger });
const policy = createPasswordPolicy({ policy: { minLength: 15, minLengthWithMfa: 8, maxLength: 256, minScore: 3, hibp: { enabled: false, baseUrl: 'http://127.0.0.1:9', timeoutMs: 100 } } });
const mode = process.argv[2] ?? 'external';
const app = new Koa();
app.use(securityHeaders({ https: false }));
app.use(async (ctx, next) => { await next(); const extra = process.argv[3]; if (extra) { const n = ctx.state.cspNonce; ctx.set('Content-Security-Policy', ctx.response.get('Content-Security-Policy').replace("style-src 'self'", extra.includes('style') ? `style-src 'self' 'nonce-${n}'` : "style-src 'self'") + (extra.includes('worker') ? "; worker-src 'self' blob:" : '')); } });
app.use(staticFiles('/tmp/demo-static'));
app.use(createCaptchaRouter(captcha).routes());
app.use(async (ctx, next) => {
  if (ctx.path === '/main-altcha.js') { ctx.type = 'text/javascript'; ctx.body = await readFile('node_modules/altcha/dist/main/altcha.min.js'); return; }
  if (ctx.path === '/submit' && ctx.method === 'POST') {
    const form = await readForm(ctx);
    ctx.body = { captcha: await captcha.verify(form, ctx.ip), policy: await policy.check(form.password ?? '', { email: 'alice.smith@example.com' }) };
    return;
  }
  if (ctx.path !== '/') return next();
  const n = ctx.state.cspNonce as string;
  const head = mode === 'external'
    ? `<link rel="stylesheet" href="/static/vendor/altcha.css"><script type="module" src="/static/vendor/altcha.js" nonce="${n}"></script><script type="module" src="/static/demo-setup.js" nonce="${n}"></script>`
    : `<meta name="csp-nonce" content="${n}"><script type="module" src="/main-altcha.js" nonce="${n}"></script>`;
  ctx.type = 'html';
  ctx.body = `<!doctype html><html lang="en"><head><meta charset="utf-8">${head}<script src="/static/password-meter.js" nonce="${n}" defer></script></head><body>
<form method="post" action="/submit"><input id="email" value="alice.smith@example.com">
<input type="password" id="pw" name="password" autocomplete="new-password" data-password-meter="pw-strength" data-user-inputs="#email">
<div id="pw-strength" data-min-length="15" data-max-length="256" data-labels="Very weak|Weak|Fair|Strong|Very strong" data-too-short="Use at least {min} characters">
<meter min="0" max="4" low="2" high="3" optimum="4" value="0"></meter><output></output></div>
<altcha-widget challenge="/captcha/challenge" name="altcha"></altcha-widget><button id="go">Go</button></form></body></html>`;
});
const server = http.createServer(app.callback());
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const origin = `http://127.0.0.1:${(server.address() as any).port}`;
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
const page = await browser.newPage();
const problems: string[] = [];
page.on('console', (m) => problems.push(`console.${m.type()}: ${m.text()}`));
page.on('requestfailed', (r) => problems.push('failed ' + r.url())); page.on('response', (r) => { if (r.status() >= 400) problems.push('HTTP ' + r.status() + ' ' + r.url()); });
page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
await page.goto(origin);
await page.evaluate(() => document.addEventListener('securitypolicyviolation', (e) => console.log('CSP', e.violatedDirective, e.blockedURI)));
await page.fill('#pw', 'Vq8#mZ2!pL4@xR');
await page.waitForTimeout(400);
console.log('after short:', await page.$eval('#pw-strength output', (o) => o.textContent), await page.$eval('meter', (m: any) => m.value));
await page.waitForFunction(() => (window as any).zxcvbnts?.['language-en'], null, { timeout: 20000 }).catch(() => console.log('zxcvbn did not load'));
await page.fill('#pw', 'password123password');
await page.waitForTimeout(400);
console.log('common:', await page.$eval('#pw-strength output', (o) => o.textContent), await page.$eval('meter', (m: any) => m.value));
await page.fill('#pw', 'purple monkey dishwasher rides');
await page.waitForTimeout(400);
console.log('strong:', await page.$eval('#pw-strength output', (o) => o.textContent), await page.$eval('meter', (m: any) => m.value), 'aria-live=', await page.$eval('#pw-strength output', (o) => o.getAttribute('aria-live')));
await page.click('altcha-widget input[type=checkbox]', { force: true, timeout: 5000 }).catch((e) => console.log('no checkbox', e.message));
await page.waitForFunction(() => (document.querySelector('input[name=altcha]') as HTMLInputElement | null)?.value, null, { timeout: 30000 }).catch(() => console.log('altcha did not verify'));
console.log('widget state:', await page.$eval('altcha-widget', (w: any) => w.getState?.()));
console.log(problems.filter((p) => !p.includes('favicon')).join('\n')); problems.length = 0;
await page.screenshot({ path: `/tmp/demo-${mode}.png` });
const [resp] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/submit')), page.click('#go')]);
console.log('submit:', await resp.text());
console.log(problems.filter((p) => !p.includes('favicon')).join('\n'));
await browser.close();
server.close();
