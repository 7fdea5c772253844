import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAdminApi, type AdminApiFixture } from '../helpers/admin-api-fixtures.js';

let f: AdminApiFixture;
beforeAll(async () => {
  f = await startAdminApi({ captcha: { provider: 'none' } });
});
afterAll(() => f?.close());

const password = 'correct horse battery staple';
const accountsWith = async (canonical: string) => ((await f.t.container.dataSource.query(
  `SELECT count(*)::int AS n FROM accounts WHERE email_canonical = $1`, [canonical])) as [{ n: number }])[0].n;

describe('admin API: accounts by canonical email', () => {
  it('answers 409 email_taken for a respelled address (case, fullwidth, padding)', async () => {
    const created = await f.api.call('POST', '/accounts', {
      token: f.writeToken, body: { email: 'Grace@Example.com', password },
    });
    expect(created.status).toBe(201);
    for (const email of ['GRACE@example.COM', 'ｇｒａｃｅ＠ｅｘａｍｐｌｅ．ｃｏｍ', ' grace@example.com ']) {
      expect(await f.api.call('POST', '/accounts', { token: f.writeToken, body: { email, password } }), email)
        .toMatchObject({ status: 409, body: { error: 'email_taken' } });
    }
    expect(await accountsWith('grace@example.com')).toBe(1);
    // Any spelling finds it; the stored spelling is the one given first.
    const found = await f.api.call('GET', '/accounts', { token: f.readToken, query: { email: 'ＧＲＡＣＥ@example.com' } });
    expect(found.body).toMatchObject({ items: [{ email: 'Grace@Example.com' }] });
  });

  it('refuses ambiguous and control-character addresses with 422 naming body.email, and writes nothing', async () => {
    for (const [email, reason] of [
      ['\u0130da@example.com', 'contains a character with no single lower-case form (U+0130) (email_ambiguous)'],
      ['ida\u202e@example.com', 'contains an invisible or control character (U+202E) (email_control_characters)'],
      ['ida\u200d@example.com', 'contains an invisible or control character (U+200D) (email_control_characters)'],
    ]) {
      const refused = await f.api.call('POST', '/accounts', { token: f.writeToken, body: { email, password } });
      expect(refused).toMatchObject({
        status: 422, body: { error: 'validation_failed', error_description: `body.email: ${reason}` },
      });
    }
    expect(await accountsWith('ida@example.com')).toBe(0);
    const rows = await f.t.container.dataSource.query(
      `SELECT count(*)::int AS n FROM accounts WHERE email LIKE '%da%@example.com'`,
    ) as [{ n: number }];
    expect(rows[0].n).toBe(0);
  });
});
