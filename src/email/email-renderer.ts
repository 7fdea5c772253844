import path from 'node:path';
import ejs from 'ejs';
import { projectRoot } from '../config/load-config.js';
import { translator, type Locale, type Translate } from '../i18n/i18n.js';

/**
 * When and from where a credential of the account changed, for the "was this you?" notices
 * (src/accounts/security-notices.ts): a coarse device (browser + OS), never codes or secrets.
 */
export type ChangeNotice = {
  /** Already formatted in the recipient's language, in UTC. */
  when: string;
  ip: string | null;
  /** Browser and operating system (src/sessions/user-agent.ts); null when not recognised. */
  browser: string | null;
  os: string | null;
  /** The account's security page, where the person checks factors and sessions. */
  securityLink: string;
};

/** A kind of second factor, as the notices name it. */
export type NoticeFactorType = 'totp' | 'webauthn' | 'email' | 'sms';

/** The locals each email template needs; the keys are the template names under views/email/. */
export interface EmailLocals {
  /** Confirm the address after registering. */
  'verify-email': { link: string; expiresHours: number };
  /** Sent instead of a second registration, so registering never reveals that an address has an account. */
  'account-exists': { loginLink: string; resetLink: string };
  'reset-password': { link: string; expiresMinutes: number };
  /** Notice after a password change or reset. */
  'password-changed': ChangeNotice;
  'account-locked': { unlockLink: string; lockedMinutes: number };
  /** Sent to the NEW address to confirm an email change. */
  'change-email-verify': { link: string; newEmail: string; expiresHours: number };
  /** Notice to the OLD address once the email was changed. */
  'email-changed': { newEmail: string } & ChangeNotice;
  /** Confirmation to the NEW address once the change took effect. */
  'email-change-confirmed': { newEmail: string } & ChangeNotice;
  'mfa-factor-added': { factorType: NoticeFactorType } & ChangeNotice;
  'mfa-factor-removed': { factorType: NoticeFactorType } & ChangeNotice;
  /** A new set of recovery codes replaced the old one (the codes themselves are never mailed). */
  'recovery-codes-regenerated': ChangeNotice;
  /** Config `notifications.newDeviceSignIn`: a sign-in from a browser without this account's device cookie. */
  'new-device-sign-in': ChangeNotice;
  'recovery-code-used': { remaining: number };
  /** A one-time code for an email second factor (sign-in or enrolment). */
  'mfa-code': { code: string; expiresMinutes: number };
  /** The second-factor step was locked after too many wrong codes: the password is known to someone. */
  'mfa-locked': { lockedMinutes: number; permanent: boolean; resetLink: string };
}

export type EmailTemplate = keyof EmailLocals;

export interface RenderedEmail {
  subject: string;
  text: string;
  html: string;
}

export interface EmailRenderer {
  render<T extends EmailTemplate>(template: T, locale: Locale, locals: EmailLocals[T]): Promise<RenderedEmail>;
}

export interface EmailRendererOptions {
  productName: string;
  issuer: string;
  /** Button colour (branding.primaryColor). */
  primaryColor?: string;
  /** Cache compiled templates; off in development so edits show without a restart. */
  cache?: boolean;
}

// A Record keyed by the union makes the compiler reject a template added to EmailLocals but not listed here.
const templateSet: Record<EmailTemplate, true> = {
  'verify-email': true, 'account-exists': true, 'reset-password': true, 'password-changed': true,
  'account-locked': true, 'change-email-verify': true, 'email-changed': true, 'recovery-code-used': true,
  'mfa-code': true, 'email-change-confirmed': true, 'mfa-factor-added': true, 'mfa-factor-removed': true,
  'recovery-codes-regenerated': true, 'new-device-sign-in': true, 'mfa-locked': true,
};

/** Every email template, for tests and previews. */
export const emailTemplates = Object.keys(templateSet) as EmailTemplate[];

export const emailViewsDir = path.join(projectRoot, 'views', 'email');

// Unquoted family names (valid CSS) so the style attribute needs no escaped quotes.
const font = 'font-family:-apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif;';

// Email clients drop <style> blocks and stylesheets, so every element carries its own inline style.
function stylesFor(accent: string) {
  return {
    font,
    accent,
    p: 'margin:0 0 16px 0;',
    muted: 'margin:0 0 16px 0;font-size:13px;line-height:1.5;color:#6b7280;word-break:break-all;',
    link: `color:${accent};`,
  };
}

// Plain text must reach the reader verbatim: "<" in an address stays "<", not "&lt;".
const verbatim = (value: unknown): string => (value === undefined || value === null ? '' : String(value));

/** A translator that fails loudly on a missing key instead of mailing the raw key to a user. */
function strictTranslator(locale: Locale): Translate {
  const t = translator(locale);
  return (key, params) => {
    const text = t(key, params);
    if (text === key) throw new Error(`missing catalogue key ${key}`);
    return text;
  };
}

function assertHttpLinks(template: EmailTemplate, locals: Record<string, unknown>): void {
  for (const [name, value] of Object.entries(locals)) {
    // A link is written into href; only http(s) keeps a javascript: or data: URL out of a button.
    if (/link$/i.test(name) && (typeof value !== 'string' || !/^https?:\/\//.test(value))) {
      throw new Error(`email ${template}: ${name} must be an http(s) URL`);
    }
  }
}

/** Renders the catalogued subject, the text part and the HTML part (inside _layout.html.ejs) of an email. */
export function createEmailRenderer({ productName, issuer, primaryColor = '#1d4ed8', cache = true }: EmailRendererOptions): EmailRenderer {
  const host = new URL(issuer).host;
  const style = stylesFor(primaryColor);
  return {
    async render(template, locale, locals) {
      assertHttpLinks(template, locals);
      const t = strictTranslator(locale);
      const rules = new Intl.PluralRules(locale);
      // The catalogues hold "<key>.one" and "<key>.other"; French "many" (millions) reads like "other".
      const plural: (key: string, count: number, params?: Record<string, string | number>) => string =
        (key, count, params = {}) => t(`${key}.${rules.select(count) === 'one' ? 'one' : 'other'}`, { ...params, count });
      const subject = t(`email.${template}.subject`, { productName });
      const shared = { ...locals, t, plural, locale, productName, host, subject, style };
      const file = (name: string) => path.join(emailViewsDir, name);
      const htmlBody = await ejs.renderFile(file(`${template}.html.ejs`), shared, { cache });
      const html = await ejs.renderFile(file('_layout.html.ejs'), { ...shared, body: htmlBody }, { cache });
      const textBody = await ejs.renderFile(file(`${template}.text.ejs`), shared, { cache, escape: verbatim });
      const text = await ejs.renderFile(file('_layout.text.ejs'), { ...shared, body: textBody }, { cache, escape: verbatim });
      return { subject, text: tidyText(text), html };
    },
  };
}

/** Collapses the blank lines EJS control tags leave behind; one trailing newline. */
function tidyText(text: string): string {
  // "-- " keeps its space: mail clients recognise it as the signature separator (RFC 3676 §4.3).
  const lines = text.split(/\r?\n/).map((line) => (line === '-- ' ? line : line.trimEnd()));
  return `${lines.join('\n').replace(/\n{3,}/g, '\n\n').trim()}\n`;
}
