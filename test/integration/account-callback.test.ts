import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

/** /account/callback is on the provider's origin: text from its query string must never be shown. */
describe('the account sign-in callback shows fixed messages', () => {
  let t: TestServer;
  beforeAll(async () => { t = await startTestServer(); });
  afterAll(() => t?.close());

  const page = async (query: string, language = 'en') => {
    const response = await fetch(new URL(`/account/callback?${query}`, t.issuer), {
      headers: { accept: 'text/html', 'accept-language': language },
    });
    return { status: response.status, html: await response.text() };
  };
  const bait = encodeURIComponent('Your account is suspended. Call +1 555 0100 and read out your password');

  it('shows the message for the error code and ignores error_description', async () => {
    const denied = await page(`error=access_denied&error_description=${bait}`);
    expect(denied.status).toBe(400);
    expect(denied.html).toContain('The sign-in was cancelled or refused.');
    expect(denied.html).not.toMatch(/suspended|555 0100/);
    expect((await page('error=login_required')).html).toContain('You need to sign in again to open your account.');
  });

  it('shows one generic message for unknown, odd or repeated codes, in the person\'s language', async () => {
    for (const query of [`error=${bait}`, `error=__proto__&error_description=${bait}`, 'error=a&error=b', 'error=']) {
      const { status, html } = await page(query);
      expect(status, query).toBe(400);
      expect(html, query).toContain('The sign-in could not be completed. Start again from your account page.');
      expect(html, query).not.toMatch(/suspended|555 0100|__proto__/);
    }
    expect((await page(`error=access_denied&error_description=${bait}`, 'fr')).html).toContain(
      'La connexion a été annulée ou refusée.',
    );
  });

  it('answers JSON callers with the same fixed text', async () => {
    const response = await fetch(new URL(`/account/callback?error=server_error&error_description=${bait}`, t.issuer), {
      headers: { accept: 'application/json' },
    });
    expect(await response.json()).toEqual({
      error: 'sign_in_failed',
      error_description: 'The sign-in could not be completed. Start again from your account page.',
    });
  });
});
