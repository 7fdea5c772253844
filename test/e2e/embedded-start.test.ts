import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, chmodSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { projectRoot } from '../../src/config/load-config.js';
import { BrowserAgent, signIn } from '../helpers/browser-agent.js';
import { freePort, killServer, spawnServer, waitForLine } from '../helpers/server-process.js';

function run(args: string[], env: NodeJS.ProcessEnv, stdin?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [path.join(projectRoot, 'bin/portcullis.js'), ...args], { env, cwd: projectRoot });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => { stdout += c.toString(); });
  child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
  child.stdin.end(stdin ?? '');
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

let dataDir: string;
let server: ChildProcess;
let env: NodeJS.ProcessEnv;
let issuer: string;

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'portcullis-embedded-'));
  chmodSync(dataDir, 0o755); // the postgres user must reach its data directory when we run as root
  const port = await freePort();
  const configFile = path.join(dataDir, 'portcullis.yaml');
  writeFileSync(configFile, `database:\n  embeddedPort: ${await freePort()}\n`);
  issuer = `http://localhost:${port}`;
  // A fresh machine: no DATABASE_URL, no REDIS_URL, no secrets — exactly `npm start`.
  env = { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: 'development', PORT: String(port), DATA_DIR: dataDir, PORTCULLIS_CONFIG: configFile, LOG_LEVEL: 'info' };
  server = spawnServer(env);
  await waitForLine(server, /Portcullis is listening/);
}, 90_000);

afterAll(async () => {
  await killServer(server);
  rmSync(dataDir, { recursive: true, force: true });
});

it('serves discovery on the embedded database with generated development secrets', async () => {
  const response = await fetch(new URL('/.well-known/openid-configuration', issuer));
  expect(response.status).toBe(200);
  expect((await response.json() as { issuer: string }).issuer).toBe(issuer);
  expect(existsSync(path.join(dataDir, 'secrets.json'))).toBe(true);
  expect(existsSync(path.join(dataDir, 'postgres', 'PG_VERSION'))).toBe(true);
});

it('lets the CLI share the running embedded database, and a relying party sign in', async () => {
  const redirectUri = 'http://127.0.0.1:8765/callback';
  const created = await run(['clients', 'create', '--name', 'RP', '--type', 'web', '--redirect-uri', redirectUri, '--json'], env);
  expect(created.code, created.stderr).toBe(0);
  const client = JSON.parse(created.stdout) as { client_id: string; client_secret: string };
  const user = await run(['users', 'create', '--email', 'grace@example.com', '--password-stdin', '--verified', '--json'], env, 'a long enough passphrase\n');
  expect(user.code, user.stderr).toBe(0);
  const { id } = JSON.parse(user.stdout) as { id: string };

  const config = await oidc.discovery(new URL(issuer), client.client_id, {}, oidc.ClientSecretBasic(client.client_secret), { execute: [oidc.allowInsecureRequests] });
  const verifier = oidc.randomPKCECodeVerifier();
  const url = oidc.buildAuthorizationUrl(config, { redirect_uri: redirectUri, scope: 'openid email', code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' });
  const callback = await signIn(new BrowserAgent(), url, redirectUri, { email: 'grace@example.com', password: 'a long enough passphrase' });
  const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier });
  expect(tokens.claims()!.sub).toBe(id);
}, 90_000);

it('drains and stops on SIGTERM, stopping the embedded PostgreSQL it started', async () => {
  server.kill('SIGTERM');
  const [code] = await once(server, 'exit');
  expect(code).toBe(0);
  expect(existsSync(path.join(dataDir, 'postgres', 'postmaster.pid'))).toBe(false);
});
