/**
 * An admin signed in to the console over HTTP, as a browser without JavaScript: an account with
 * the admin role and an authenticator app, through the hosted sign-in and its second-factor step.
 */
import { generate } from 'otplib';
import { expect } from 'vitest';
import { BrowserAgent, type PageResponse } from './browser-agent.js';
import { strongPassword, submitForm, submitLogin, uniqueEmail } from './accounts-fixtures.js';
import type { TestServer } from './test-server.js';

export interface ConsoleAdmin { id: string; email: string; password: string; secret: string }

/**
 * A TOTP code from the step after the current one: the enrolment spent the current step, and a
 * code is accepted one step either side (RFC 6238 §5.2), so this one is always new and valid.
 */
const nextStepCode = (secret: string) => generate({ secret, epoch: Math.floor(Date.now() / 1000) + 30 });

/** An account holding the admin role with an authenticator app enrolled. */
export async function createConsoleAdmin(t: TestServer): Promise<ConsoleAdmin> {
  const email = uniqueEmail('admin');
  const password = strongPassword();
  const account = await t.container.accounts.create({ email, password, verified: true, roles: ['admin'] }, 'test');
  const enrolment = await t.container.mfa.startTotp(account.id, email);
  await t.container.mfa.confirmTotp(account.id, enrolment.factorId, await generate({ secret: enrolment.secret }), { locale: 'en' });
  return { id: account.id, email, password, secret: enrolment.secret };
}

/** Opens `path` signed out, signs in with password and authenticator code, and lands back there. */
export async function signInConsoleAdmin(t: TestServer, admin: ConsoleAdmin, path = '/admin'): Promise<{ agent: BrowserAgent; page: PageResponse }> {
  const agent = new BrowserAgent();
  const login = await agent.follow(new URL(path, t.issuer));
  const challenge = await submitLogin(agent, login, admin);
  expect(challenge.html, challenge.html.slice(0, 300)).toContain('authenticator app');
  const verified = await submitForm(agent, challenge, '/mfa', { code: await nextStepCode(admin.secret) });
  expect(verified.status, verified.html.slice(0, 300)).toBe(303);
  const page = await agent.follow(verified.location!);
  expect(page.url.pathname, page.html.slice(0, 1500)).toBe(path);
  expect(page.status, page.html.slice(0, 300)).toBe(200);
  return { agent, page };
}
