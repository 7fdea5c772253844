import type { Middleware } from 'koa';
import type { CaptchaWidget } from '../captcha/captcha-service.js';
import { randomString } from '../infra/random-pool.js';

function originOf(url: string | undefined): string | undefined {
  if (!url?.startsWith('https://')) return undefined;
  return new URL(url).origin;
}

const sources = (list: string[] | undefined) => (list?.length ? ` ${list.join(' ')}` : '');

/**
 * Strict defaults for every response; pages get a per-request nonce for their scripts. A
 * third-party CAPTCHA's origin and an https logo are the only outside sources ever allowed.
 * No `form-action`: browsers apply it to the redirect chain after a sign-in POST, which ends at
 * the relying party's redirect_uri.
 */
export function securityHeaders({ https, captcha, logoUrl }: { https: boolean; captcha?: CaptchaWidget; logoUrl?: string }): Middleware {
  // Each remote CAPTCHA vendor documents the sources its widget needs; altcha needs none.
  const csp = captcha?.cspSources;
  const logoOrigin = originOf(logoUrl);
  const policy = (nonce: string) => [
    `default-src 'none'`,
    `script-src 'self' 'nonce-${nonce}'${sources(csp?.script)}`,
    `style-src 'self'${sources(csp?.style)}`,
    `img-src 'self' data:${logoOrigin ? ` ${logoOrigin}` : ''}`,
    `connect-src 'self'${sources(csp?.connect)}`,
    `worker-src 'self'`,
    ...(csp?.frame.length ? [`frame-src${sources(csp.frame)}`] : []),
    `base-uri 'none'`,
    `frame-ancestors 'none'`,
  ].join('; ');
  return async (ctx, next) => {
    const nonce = randomString(16, 'base64');
    ctx.state.cspNonce = nonce;
    ctx.set({
      'Content-Security-Policy': policy(nonce),
      'X-Content-Type-Options': 'nosniff',
      'X-Frame-Options': 'DENY',
      'Referrer-Policy': 'no-referrer',
      'Cross-Origin-Opener-Policy': 'same-origin',
      'Permissions-Policy': 'camera=(), microphone=(), geolocation=(), payment=()',
      ...(https ? { 'Strict-Transport-Security': 'max-age=31536000; includeSubDomains' } : {}),
    });
    await next();
  };
}
