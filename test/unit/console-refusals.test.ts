import type { Context } from 'koa';
import { describe, expect, it } from 'vitest';
import { cataloguedRefusals, refusalText } from '../../src/admin/console/console-kit.js';
import { AppError, BadRequestError, ConflictError } from '../../src/errors/app-error.js';
import { catalogueKeys } from '../../src/i18n/i18n.js';

/** Just what the console's translation reads from a request: its language. */
const inLocale = (locale: string) => ({ state: { locale } }) as unknown as Context;

describe('refusalText', () => {
  it('has a message in every language for each catalogued service code', () => {
    for (const locale of ['en', 'fr'] as const) {
      const keys = new Set(catalogueKeys(locale));
      for (const code of cataloguedRefusals) expect(keys.has(`pages.admin.errors.${code}`), `${locale}: ${code}`).toBe(true);
    }
  });

  it('speaks the page language for a catalogued code, and keeps the service words for any other', () => {
    const inUse = new ConflictError('api_in_use', 'https://x.example is still used by role a');
    expect(refusalText(inLocale('fr'), inUse)).toMatch(/^Des rôles ou des clés d'API utilisent encore cette API/);
    expect(refusalText(inLocale('en'), inUse)).toMatch(/^Roles or API keys still use this API/);
    expect(refusalText(inLocale('fr'), new BadRequestError('something_new', 'the service words'))).toBe('the service words');
  });

  it('rethrows what is no refusal: server errors and anything not an AppError', () => {
    const broken = new AppError('database_down', 503, 'no');
    expect(() => refusalText(inLocale('en'), broken)).toThrow(broken);
    const plain = new Error('bug');
    expect(() => refusalText(inLocale('en'), plain)).toThrow(plain);
  });
});
