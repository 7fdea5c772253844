import { describe, expect, it } from 'vitest';
import { privilegedAccessRefusal } from '../../src/apis/privileged-api-policy.js';

const privileged = { identifier: 'https://idp.example.test/admin/api', privileged: true };
const allowed = { client_id: 'ops', allow_admin_api: true };
const mfa = 'urn:portcullis:acr:mfa';

describe('privilegedAccessRefusal', () => {
  it('never refuses an ordinary API', () => {
    expect(privilegedAccessRefusal({
      api: { ...privileged, privileged: false }, client: { client_id: 'x' }, subject: { kind: 'account' },
    })).toBeUndefined();
  });

  it('refuses a client not allowed, whoever the subject, naming the client', () => {
    for (const subject of [
      { kind: 'client' }, { kind: 'api_key' }, { kind: 'pending' }, { kind: 'account', acr: mfa, amr: ['pwd', 'otp'] },
    ] as const) {
      expect(privilegedAccessRefusal({
        api: privileged, client: { client_id: 'spa', allow_admin_api: false }, subject,
      }))
        .toMatch(/^https:\/\/idp\.example\.test\/admin\/api is a privileged API: client spa is not allowed/);
    }
  });

  it('lets an allowed client act for itself, for an API key, and ask before anyone signed in', () => {
    for (const subject of [{ kind: 'client' }, { kind: 'api_key' }, { kind: 'pending' }] as const) {
      expect(privilegedAccessRefusal({ api: privileged, client: allowed, subject })).toBeUndefined();
    }
  });

  it('wants a person signed in with a second factor performed now', () => {
    const refusal = (acr?: unknown, amr?: unknown) =>
      privilegedAccessRefusal({ api: privileged, client: allowed, subject: { kind: 'account', acr, amr } });
    expect(refusal(mfa, ['pwd', 'otp', 'mfa'])).toBeUndefined();
    expect(refusal(mfa, ['hwk', 'mfa'])).toBeUndefined();
    expect(refusal('urn:portcullis:acr:pwd', ['pwd'])).toMatch(/needs a sign-in that passed a second factor/);
    // A "trusted device" pass: acr mfa without a factor in amr.
    expect(refusal(mfa, ['pwd', 'mfa'])).toMatch(/needs a sign-in that passed a second factor/);
    expect(refusal(undefined, undefined)).toMatch(/needs a sign-in that passed a second factor/);
  });
});
