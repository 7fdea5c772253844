import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../src/config/load-config.js';
import { catalogueKeys, translator } from '../../src/i18n/i18n.js';
import { BrowserAgent } from '../helpers/browser-agent.js';
import {
  alertText, authorizationRequest, createAccount, createRelyingParty, fieldError, mailTo, openPage, startAccountsServer, strongPassword,
  submitForm, submitLogin, uniqueEmail, type AccountsServer,
} from '../helpers/accounts-fixtures.js';

const localesDir = path.join(projectRoot, 'src', 'i18n', 'locales');
const viewsDir = path.join(projectRoot, 'views');

/** A browser whose every request prefers French, as a French user's would. */
class FrenchBrowser extends BrowserAgent {
  override request(input: string | URL, init: { method?: string; form?: Record<string, string>; headers?: Record<string, string> } = {}) {
    return super.request(input, { ...init, headers: { 'accept-language': 'fr-FR,fr;q=0.9,en;q=0.5', ...init.headers } });
  }
}

function filesUnder(dir: string, extension: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    return entry.isDirectory() ? filesUnder(full, extension) : entry.name.endsWith(extension) ? [full] : [];
  });
}

const readCatalogue = (locale: string, namespace: string) =>
  JSON.parse(readFileSync(path.join(localesDir, locale, `${namespace}.json`), 'utf8')) as Record<string, string>;
const placeholders = (text: string) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

describe('the message catalogues', () => {
  const namespaces = readdirSync(path.join(localesDir, 'en')).filter((file) => file.endsWith('.json')).map((file) => file.slice(0, -5));

  it.each(namespaces)('%s.json has the same keys in English and French, with the same placeholders', (namespace) => {
    const en = readCatalogue('en', namespace);
    const fr = readCatalogue('fr', namespace);
    expect(Object.keys(fr).sort()).toEqual(Object.keys(en).sort());
    for (const key of Object.keys(en)) {
      expect(placeholders(fr[key] ?? ''), `${namespace}.${key}`).toEqual(placeholders(en[key]!));
      expect(fr[key]!.trim(), `${namespace}.${key} is translated`).not.toBe('');
    }
  });

  it('holds every t(\'pages.…\') and t(\'email.…\') key the views use', () => {
    const known = new Set(catalogueKeys('en'));
    const used = new Map<string, string>();
    for (const file of filesUnder(viewsDir, '.ejs')) {
      for (const match of readFileSync(file, 'utf8').matchAll(/\bt\(\s*['"]((?:pages|email)\.[\w.-]+)['"]/g)) used.set(match[1]!, path.relative(viewsDir, file));
    }
    expect(used.size).toBeGreaterThan(50);
    const missing = [...used].filter(([key]) => !known.has(key)).map(([key, file]) => `${key} (${file})`);
    expect(missing).toEqual([]);
  });

  it('holds every literal pages.… key the code uses, and every key built from a password problem or scope', () => {
    const known = new Set(catalogueKeys('en'));
    const literal = filesUnder(path.join(projectRoot, 'src'), '.ts')
      .flatMap((file) => [...readFileSync(file, 'utf8').matchAll(/'(pages\.[\w.]+)'/g)].map((m) => m[1]!));
    const built = [
      ...['too_short', 'too_long', 'too_common', 'contains_email', 'breached'].map((code) => `pages.password.${code}`),
      ...['openid', 'email', 'profile', 'offline_access', 'api'].map((scope) => `pages.consent.scope.${scope}`),
    ];
    expect(literal.length).toBeGreaterThan(50);
    expect([...new Set([...literal, ...built])].filter((key) => !known.has(key))).toEqual([]);
    expect(catalogueKeys('fr')).toEqual(catalogueKeys('en'));
  });
});

describe('French pages', () => {
  let s: AccountsServer;
  const fr = translator('fr');
  beforeAll(async () => {
    s = await startAccountsServer();
  });
  afterAll(() => s?.close());

  it('serves the login page in French for Accept-Language: fr, and its errors too', async () => {
    const user = await createAccount(s.t);
    const agent = new FrenchBrowser();
    const login = await agent.follow(new URL('/account', s.t.issuer));
    expect(login.status).toBe(200);
    expect(login.html).toContain('<html lang="fr">');
    for (const key of ['pages.login.title', 'pages.login.remember', 'pages.login.forgot', 'pages.login.register']) {
      expect(login.html).toContain(fr(key).replace(/'/g, '&#39;'));
    }
    expect(login.html).not.toContain('Keep me signed in');

    const wrong = await submitLogin(agent, login, { email: user.email, password: strongPassword() });
    expect(wrong.status).toBe(400);
    expect(alertText(wrong.html)).toBe('L’adresse e-mail ou le mot de passe est incorrect.');
    const empty = await submitLogin(agent, login, { email: '', password: '' });
    expect(fieldError(empty.html, 'email')).toBe(fr('pages.login.enter_email'));
    const forged = await agent.request(new URL(`${login.url.pathname}/login`, s.t.issuer), { form: { email: user.email, password: 'x' } });
    expect(forged.status).toBe(403);
    expect(alertText(forged.html)).toBe(fr('pages.error.csrf'));
  });

  it('follows ui_locales=fr from the authorization request even when the browser prefers English', async () => {
    const { config } = await createRelyingParty(s.t);
    const page = await openPage(new BrowserAgent(), (await authorizationRequest(config, { ui_locales: 'fr' })).url);
    expect(page.html).toContain(`<h1>${fr('pages.login.title')}</h1>`);
  });

  it('writes the emails of a French sign-up in French', async () => {
    const agent = new FrenchBrowser();
    const email = uniqueEmail('francais');
    const { config } = await createRelyingParty(s.t);
    const login = await openPage(agent, (await authorizationRequest(config, { ui_locales: 'fr' })).url);
    const form = await agent.request(new URL(`${login.url.pathname}/register`, login.url));
    expect(form.html).toContain(fr('pages.register.title'));
    const done = await submitForm(agent, form, '/register', { email, password: strongPassword() });
    expect(done.html).toContain(fr('pages.check_email.title'));
    await mailTo(s.mail, email, /^Confirmez votre adresse e-mail/);
  });
});
