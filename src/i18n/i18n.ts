import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const supportedLocales = ['en', 'fr'] as const;
export type Locale = (typeof supportedLocales)[number];

export type Translate = (key: string, params?: Record<string, string | number>) => string;

const localesDir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'locales');

/** One flat catalogue per locale: every locales/<locale>/<namespace>.json, keys prefixed by namespace. */
function loadCatalogue(locale: Locale): Map<string, string> {
  const catalogue = new Map<string, string>();
  const dir = path.join(localesDir, locale);
  for (const file of readdirSync(dir).filter((name) => name.endsWith('.json')).sort()) {
    const namespace = file.slice(0, -'.json'.length);
    const entries = JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as Record<string, string>;
    for (const [key, text] of Object.entries(entries)) catalogue.set(`${namespace}.${key}`, text);
  }
  return catalogue;
}

const catalogues = new Map(supportedLocales.map((locale) => [locale, loadCatalogue(locale)]));

/** The message for `key` in `locale` (English when missing there), with {param} placeholders filled. */
export function translator(locale: Locale): Translate {
  const primary = catalogues.get(locale)!;
  const fallback = catalogues.get('en')!;
  return (key, params = {}) => {
    const text = primary.get(key) ?? fallback.get(key);
    if (text === undefined) return key;
    return text.replace(/\{(\w+)\}/g, (whole, name: string) => (name in params ? String(params[name]) : whole));
  };
}

/** The best supported locale for an Accept-Language header (RFC 9110 §12.5.4 q-values). */
export function negotiateLocale(acceptLanguage: string | undefined, fallback: Locale): Locale {
  if (!acceptLanguage) return fallback;
  const ranked = acceptLanguage.split(',')
    .map((part) => {
      const [tag, ...params] = part.trim().split(';');
      const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
      return { base: tag!.toLowerCase().split('-')[0]!, q: q ? Number(q.slice(2)) : 1 };
    })
    .filter((entry) => entry.q > 0 && !Number.isNaN(entry.q))
    .sort((a, b) => b.q - a.q);
  return (ranked.find((entry) => (supportedLocales as readonly string[]).includes(entry.base))?.base as Locale | undefined) ?? fallback;
}

/** Every key of a locale, for the test that keeps catalogues complete. */
export function catalogueKeys(locale: Locale): string[] {
  return [...catalogues.get(locale)!.keys()].sort();
}
