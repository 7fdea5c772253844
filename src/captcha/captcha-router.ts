import Router from '@koa/router';
import { NotFoundError } from '../errors/app-error.js';
import type { AltchaDifficulty } from './altcha-difficulty.js';
import type { Captcha } from './captcha-service.js';

/**
 * GET /captcha/challenge: a fresh altcha challenge for the widget; 404 when altcha isn't the
 * provider. Its work is the larger of what the page's signed `d` hint asks (the email's failures,
 * known when the page was rendered) and what the client IP's recent failures call for now.
 */
export function createCaptchaRouter(captcha: Captcha, difficulty?: AltchaDifficulty): Router {
  const router = new Router();
  router.get('/captcha/challenge', async (ctx) => {
    if (captcha.provider !== 'altcha') {
      throw new NotFoundError('captcha_challenge_unavailable', 'this server does not use altcha');
    }
    const fromIp = difficulty ? await difficulty.required(undefined, ctx.state.clientIp ?? 'unknown') : 0;
    // Each challenge is single-use (replay protection), so no cache may hand one out twice.
    ctx.set('Cache-Control', 'no-store');
    ctx.body = await captcha.challenge(Math.max(fromIp, captcha.readHint(ctx.query.d) ?? 0));
  });
  return router;
}
