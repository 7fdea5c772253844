import { describe, expect, it } from 'vitest';
import { createEmailRenderer, emailTemplates, type EmailLocals, type EmailTemplate } from '../../src/email/email-renderer.js';
import { catalogueKeys, supportedLocales } from '../../src/i18n/i18n.js';

// Where and when a credential changed, as the "was this you?" notices carry it.
const notice = {
  when: '3 December 2026 at 14:05 UTC', ip: '203.0.113.9', browser: 'Firefox 128', os: 'Linux',
  securityLink: 'https://id.acme.test/account/security',
};
const renderer = createEmailRenderer({ productName: 'Acme ID', issuer: 'https://id.acme.test' });

const sample: EmailLocals = {
  'verify-email': { link: 'https://id.acme.test/verify?token=v1&uid=7', expiresHours: 24 },
  'account-exists': { loginLink: 'https://id.acme.test/login', resetLink: 'https://id.acme.test/reset?start=1' },
  'reset-password': { link: 'https://id.acme.test/reset?token=r1', expiresMinutes: 30 },
  'password-changed': notice,
  'account-locked': { unlockLink: 'https://id.acme.test/unlock?token=u1', lockedMinutes: 15 },
  'change-email-verify': { link: 'https://id.acme.test/change?token=c1', newEmail: 'new@acme.test', expiresHours: 1 },
  'email-changed': { newEmail: 'new@acme.test', ...notice },
  'email-change-confirmed': { newEmail: 'new@acme.test', ...notice },
  'mfa-factor-added': { factorType: 'webauthn', ...notice },
  'mfa-factor-removed': { factorType: 'sms', ...notice },
  'recovery-codes-regenerated': notice,
  'new-device-sign-in': { ...notice, browser: null, os: null, ip: null },
  'recovery-code-used': { remaining: 3 },
  'mfa-code': { code: '042917', expiresMinutes: 10 },
  'mfa-locked': { lockedMinutes: 15, permanent: false, resetLink: 'https://id.acme.test/forgot-password' },
};

// What an unresolved catalogue key looks like once rendered: "email.<template>.<sentence>".
const rawKey = /\bemail\.[a-z-]+\.[a-z.-]+/;

const render = <T extends EmailTemplate>(template: T, locale: (typeof supportedLocales)[number], locals: EmailLocals[T]) =>
  renderer.render(template, locale, locals);

describe('email renderer', () => {
  for (const template of emailTemplates) {
    for (const locale of supportedLocales) {
      it(`renders ${template} in ${locale} with every sentence from the catalogue`, async () => {
        const email = await render(template, locale, sample[template]);
        for (const part of [email.subject, email.text, email.html]) expect(part).not.toMatch(rawKey);
        expect(email.subject).toContain('Acme ID');
        expect(email.html).toMatch(new RegExp(`^<!doctype html>\\s*<html lang="${locale}">`));
        expect(email.html).toContain('Acme ID');
        expect(email.text).toContain('id.acme.test');
        // The text part is plain text: no markup and no HTML entities (French apostrophes stay ’ and ').
        expect(email.text).not.toMatch(/<\/?[a-z]+[ >]|&(amp|lt|gt|#\d+);/);
        for (const [name, value] of Object.entries(sample[template])) {
          if (!/link$/i.test(name)) continue;
          expect(email.text).toContain(value);
          expect(email.html).toContain(`href="${String(value).replace(/&/g, '&amp;')}"`);
        }
      });
    }
  }

  it('speaks French in French', async () => {
    const en = await render('verify-email', 'en', sample['verify-email']);
    const fr = await render('verify-email', 'fr', sample['verify-email']);
    expect(en.subject).toBe('Confirm your email address for Acme ID');
    expect(fr.subject).toBe('Confirmez votre adresse e-mail pour Acme ID');
    expect(fr.text).toContain('Bonjour,');
  });

  it('escapes a hostile address in HTML and keeps it verbatim in the text part', async () => {
    const newEmail = '"<script>alert(1)</script>"@evil.test';
    for (const template of ['change-email-verify', 'email-changed'] as const) {
      const email = await render(template, 'en', { ...sample[template], newEmail } as EmailLocals[typeof template]);
      expect(email.html).not.toContain('<script>');
      expect(email.html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
      expect(email.text).toContain(newEmail);
    }
  });

  it('chooses singular and plural forms per locale', async () => {
    expect((await render('verify-email', 'en', { ...sample['verify-email'], expiresHours: 1 })).text).toContain('expires in 1 hour.');
    expect((await render('verify-email', 'en', { ...sample['verify-email'], expiresHours: 24 })).text).toContain('expires in 24 hours.');
    expect((await render('recovery-code-used', 'fr', { remaining: 1 })).text).toContain('Il vous reste 1 code de récupération.');
    expect((await render('recovery-code-used', 'en', { remaining: 0 })).text).toContain('You have no recovery codes left.');
  });

  it('keeps the "-- " signature separator and no runs of blank lines in the text part', async () => {
    const { text } = await render('recovery-code-used', 'en', { remaining: 2 });
    expect(text).toContain('\n-- \n');
    expect(text).not.toMatch(/\n{3,}/);
    expect(text.endsWith('\n')).toBe(true);
  });

  it('says in a change notice what changed, when, from which browser and address, and where to check', async () => {
    const { subject, text } = await render('mfa-factor-added', 'en', sample['mfa-factor-added']);
    expect(subject).toBe('A second factor was added to your Acme ID account');
    expect(text).toContain('A second factor was just added to your Acme ID account: passkey or security key.');
    expect(text).toContain('When: 3 December 2026 at 14:05 UTC\nFrom: Firefox 128 on Linux, IP address 203.0.113.9');
    expect(text).toContain('https://id.acme.test/account/security');
    const fr = await render('mfa-factor-removed', 'fr', sample['mfa-factor-removed']);
    expect(fr.text).toContain('Un second facteur vient d’être supprimé de votre compte Acme ID : codes par SMS.');
    expect(fr.text).toContain('Depuis : Firefox 128 sous Linux, adresse IP 203.0.113.9');
    // Nothing recognised: said plainly, not left blank.
    const unknown = await render('new-device-sign-in', 'en', sample['new-device-sign-in']);
    expect(unknown.text).toContain('From: an unrecognised browser, IP address unknown');
  });

  it('refuses a link that is not http(s)', async () => {
    await expect(render('reset-password', 'en', { link: 'javascript:alert(1)', expiresMinutes: 5 })).rejects.toThrow(/http\(s\) URL/);
  });

  it('en and fr email catalogues have the same keys', () => {
    const emailKeys = (locale: 'en' | 'fr') => catalogueKeys(locale).filter((key) => key.startsWith('email.'));
    expect(emailKeys('en').length).toBeGreaterThan(0);
    expect(emailKeys('fr')).toEqual(emailKeys('en'));
  });

  it('has a subject for every template', () => {
    const keys = new Set(catalogueKeys('en'));
    for (const template of emailTemplates) expect(keys.has(`email.${template}.subject`)).toBe(true);
  });
});
