import Router from '@koa/router';
import { NotFoundError } from '../errors/app-error.js';
import type { Captcha } from './captcha-service.js';

/** GET /captcha/challenge: a fresh altcha challenge for the widget; 404 when altcha isn't the provider. */
export function createCaptchaRouter(captcha: Captcha): Router {
  const router = new Router();
  router.get('/captcha/challenge', async (ctx) => {
    if (captcha.provider !== 'altcha') throw new NotFoundError('captcha_challenge_unavailable', 'this server does not use altcha');
    // Each challenge is single-use (replay protection), so no cache may hand one out twice.
    ctx.set('Cache-Control', 'no-store');
    ctx.body = await captcha.challenge();
  });
  return router;
}
