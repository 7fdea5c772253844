import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import Provider from 'oidc-provider';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../src/config/load-config.js';
import { BrowserAgent } from '../helpers/browser-agent.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? sourceFiles(full) : full.endsWith('.ts') ? [full] : [];
  });
}

describe("oidc-provider's development-only parts stay off", () => {
  let t: TestServer;
  beforeAll(async () => { t = await startTestServer(); });
  afterAll(() => t?.close());

  it('runs without devInteractions: the login page is ours', async () => {
    const provider = t.server.host.provider as Provider & Record<string | symbol, unknown>;
    expect(provider).toBeInstanceOf(Provider);
    const { client } = await t.container.clients.create({ name: 'App', type: 'spa', redirectUris: ['http://127.0.0.1:9/cb'] }, 'test');
    const url = new URL('/auth', t.issuer);
    url.search = new URLSearchParams({ client_id: client.clientId, response_type: 'code', scope: 'openid', redirect_uri: 'http://127.0.0.1:9/cb', code_challenge: 'a'.repeat(43), code_challenge_method: 'S256' }).toString();
    const page = await new BrowserAgent().follow(url);
    expect(page.status).toBe(200);
    expect(page.html).toContain('name="csrf"');
    expect(page.html).toContain('/static/portcullis.css');
    // oidc-provider's dev interaction page says so in its markup.
    expect(page.html).not.toMatch(/devInteractions|DO NOT USE IN PRODUCTION/i);
  });

  it('signs with the key from the database, never a built-in development key', async () => {
    const jwks = await (await fetch(new URL('/jwks', t.issuer))).json() as { keys: Array<{ kid: string }> };
    const stored = (await t.container.dataSource.query('SELECT kid FROM signing_keys')) as Array<{ kid: string }>;
    expect(jwks.keys.map((k) => k.kid).sort()).toEqual(stored.map((k) => k.kid).sort());
  });

  it('stores interactions through our adapters, not the memory adapter', async () => {
    const { client } = await t.container.clients.create({ name: 'App 2', type: 'spa', redirectUris: ['http://127.0.0.1:9/cb'] }, 'test');
    const url = new URL('/auth', t.issuer);
    url.search = new URLSearchParams({ client_id: client.clientId, response_type: 'code', scope: 'openid', redirect_uri: 'http://127.0.0.1:9/cb', code_challenge: 'a'.repeat(43), code_challenge_method: 'S256' }).toString();
    const first = await new BrowserAgent().request(url);
    const uid = first.location!.pathname.split('/').pop()!;
    const interaction = await t.server.host.provider.Interaction.find(uid);
    expect(interaction?.uid).toBe(uid);
    if (t.container.redis) {
      expect(await t.container.redis.exists(`Interaction:${uid}`)).toBe(1);
    } else {
      const rows = await t.container.dataSource.query(`SELECT 1 FROM oidc_model_instances WHERE model = 'Interaction' AND id = $1`, [uid]);
      expect(rows).toHaveLength(1);
    }
  });

  it('no source file turns a development-only part back on', () => {
    for (const file of sourceFiles(path.join(projectRoot, 'src'))) {
      const text = readFileSync(file, 'utf8');
      expect(text, file).not.toMatch(/devInteractions:\s*\{\s*enabled:\s*true/);
      expect(text, file).not.toMatch(/memory_adapter/);
    }
  });
});
