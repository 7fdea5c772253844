/**
 * Adaptive altcha work at the login form, behind a trusted proxy so each attempt can come from
 * its own IP: the work a page's challenge asks grows with the email's failures (carried in the
 * page's signed challenge URL) and with the IP's (at the challenge endpoint), and a proof of the
 * old, smaller work is refused once more is required.
 */
import { solveChallenge, type Challenge } from 'altcha-lib';
import { deriveKey } from 'altcha-lib/algorithms/sha';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BrowserAgent, type PageResponse } from '../helpers/browser-agent.js';
import {
  alertText,
  createAccount,
  startAccountsServer,
  strongPassword,
  submitLogin,
  uniqueEmail,
  type AccountsServer,
} from '../helpers/accounts-fixtures.js';

let s: AccountsServer;
let origin: string;
beforeAll(async () => {
  s = await startAccountsServer({
    captcha: {
      provider: 'altcha',
      altchaMaxNumber: 1000,
      altchaGrowth: 2,
      altchaMaxNumberCap: 64000,
      loginFailuresBeforeCaptcha: 1,
    },
    http: { trustedProxies: ['127.0.0.1', '::1'] },
    lockout: { threshold: 20 },
    rateLimits: {
      loginPerIp: { points: 1000, durationSeconds: 60 },
      loginPerAccount: { points: 1000, durationSeconds: 60 },
    },
  });
  // The issuer's own host (others are 421); its loopback peer is the trusted proxy naming the client IP.
  origin = s.t.issuer;
});
afterAll(() => s?.close());

const from = (ip: string) => ({ 'x-forwarded-for': ip });
const challengeUrlOn = (page: PageResponse) =>
  /<altcha-widget challenge="([^"]+)"/.exec(page.html)?.[1]?.replaceAll('&amp;', '&');

async function challengeAt(path: string, ip: string): Promise<Challenge> {
  const response = await fetch(new URL(path, origin), { headers: from(ip) });
  expect(response.status).toBe(200);
  return await response.json() as Challenge;
}

/** What the widget posts: base64 of { challenge, solution }. */
async function solved(challenge: Challenge): Promise<string> {
  const solution = await solveChallenge({ challenge, deriveKey });
  if (!solution) throw new Error('no altcha solution');
  return Buffer.from(
    JSON.stringify({ challenge: { parameters: challenge.parameters, signature: challenge.signature }, solution }),
  ).toString('base64');
}

describe('adaptive altcha work', () => {
  it("raises the work with the account's failures, whatever the IP, and refuses a proof of the old work", async () => {
    const user = await createAccount(s.t);
    const agent = new BrowserAgent();
    const page = await agent.follow(new URL('/account', origin));
    const wrong = () => ({ email: user.email, password: strongPassword() });

    const first = await submitLogin(agent, page, wrong(), {}, from('203.0.113.1'));
    expect(first.status).toBe(400);
    // One failure: the CAPTCHA is due, at the base work.
    expect(challengeUrlOn(first)).toBe('/captcha/challenge');
    // A proof of the base work, kept for later (as a script would stockpile them).
    const stockpiled = await solved(await challengeAt('/captcha/challenge', '203.0.113.50'));

    const second = await submitLogin(
      agent,
      page,
      wrong(),
      { altcha: await solved(await challengeAt(challengeUrlOn(first)!, '203.0.113.2')) },
      from('203.0.113.2'),
    );
    expect(second.status).toBe(400);
    expect(alertText(second.html)).toBe('The email or password is incorrect.');
    const harder = challengeUrlOn(second)!;
    expect(harder).toMatch(/\?d=2000\./);
    const third = await submitLogin(
      agent,
      page,
      wrong(),
      { altcha: await solved(await challengeAt(harder, '203.0.113.3')) },
      from('203.0.113.3'),
    );
    expect(third.status).toBe(400);
    expect((await challengeAt(challengeUrlOn(third)!, '203.0.113.4')).parameters.data).toEqual({ maxNumber: 4000 });

    // The right password with the stockpiled base proof: refused, and the form asks again.
    const old = await submitLogin(agent, page, user, { altcha: stockpiled }, from('203.0.113.5'));
    expect(old.status).toBe(400);
    expect(alertText(old.html)).toBe('The check was not completed. Try again.');
    // A client that drops the page's hint gets the base work from a fresh IP, which is refused the same way.
    const dropped = await submitLogin(
      agent,
      page,
      user,
      { altcha: await solved(await challengeAt('/captcha/challenge', '203.0.113.6')) },
      from('203.0.113.6'),
    );
    expect(dropped.status).toBe(400);

    const enough = await submitLogin(
      agent,
      page,
      user,
      { altcha: await solved(await challengeAt(challengeUrlOn(old)!, '203.0.113.7')) },
      from('203.0.113.7'),
    );
    expect(enough.status).toBe(303);
  });

  it("raises the work the challenge endpoint serves to an IP whose sign-ins keep failing", async () => {
    const agent = new BrowserAgent();
    const page = await agent.follow(new URL('/account', origin));
    const ip = '198.51.100.77';
    expect((await challengeAt('/captcha/challenge', ip)).parameters.data).toEqual({ maxNumber: 1000 });
    // Spraying: one failure per unknown email, all from one IP (a CAPTCHA is asked from the second on).
    const first = await submitLogin(
      agent,
      page,
      { email: uniqueEmail('spray'), password: strongPassword() },
      {},
      from(ip),
    );
    expect(first.status).toBe(400);
    for (let i = 0; i < 3; i++) {
      const challenge = await challengeAt('/captcha/challenge', ip);
      expect(challenge.parameters.data).toEqual({ maxNumber: 1000 * 2 ** i });
      const answer = await submitLogin(
        agent,
        page,
        { email: uniqueEmail('spray'), password: strongPassword() },
        { altcha: await solved(challenge) },
        from(ip),
      );
      expect(answer.status).toBe(400);
    }
    expect((await challengeAt('/captcha/challenge', ip)).parameters.data).toEqual({ maxNumber: 8000 });
    expect((await challengeAt('/captcha/challenge', '198.51.100.78')).parameters.data).toEqual({ maxNumber: 1000 });
  });
});
