import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { ConfigError, loadConfig, projectRoot } from '../../src/config/load-config.js';
import { resolveSecrets } from '../../src/config/resolve-secrets.js';

const temporaryDirs: string[] = [];
afterEach(() => {
  while (temporaryDirs.length > 0) rmSync(temporaryDirs.pop()!, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'portcullis-config-test-'));
  temporaryDirs.push(dir);
  return dir;
}

/** A config directory holding the real default.yaml plus the given extra files. */
function configDirWith(files: Record<string, string>): string {
  const dir = tempDir();
  copyFileSync(path.join(projectRoot, 'config', 'default.yaml'), path.join(dir, 'default.yaml'));
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  return dir;
}

/** Runs `work` and returns the ConfigError it throws; fails the test when it throws nothing else. */
function configErrorOf(work: () => unknown): ConfigError {
  try {
    work();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError, but nothing was thrown');
}

const cookieKey = () => randomBytes(32).toString('base64url');
const encryptionKey = () => randomBytes(32).toString('base64url');
const noWarnings = () => { throw new Error('unexpected warning'); };

describe('loadConfig defaults', () => {
  it('loads the defaults with an empty environment', () => {
    const config = loadConfig({ env: {} });
    expect(config.nodeEnv).toBe('development');
    expect(config.port).toBe(3000);
    expect(config.issuer).toBe('http://localhost:3000');
    expect(config.keys).toMatchObject({ algorithm: 'RS256', publishLeadSeconds: 86400 });
    expect(config.ttl.authorizationCode).toBe(60);
    expect(config.databaseUrl).toBeUndefined();
    expect(config.secrets).toEqual({});
  });

  it('derives the issuer from PORT when no issuer is set', () => {
    const config = loadConfig({ env: { PORT: '4123' } });
    expect(config.port).toBe(4123);
    expect(config.issuer).toBe('http://localhost:4123');
  });

  it('keeps an explicit ISSUER instead of deriving one', () => {
    const config = loadConfig({ env: { PORT: '4123', ISSUER: 'https://id.example.com' } });
    expect(config.issuer).toBe('https://id.example.com');
  });

  it('resolves dataDir to an absolute path', () => {
    const config = loadConfig({ env: {} });
    expect(path.isAbsolute(config.dataDir)).toBe(true);
    expect(config.dataDir).toBe(path.resolve('data'));
    expect(loadConfig({ env: { DATA_DIR: 'relative/dir' } }).dataDir).toBe(path.resolve('relative/dir'));
  });

  it('reads config/<NODE_ENV>.yaml of the project over its defaults', () => {
    const testYaml = parseYaml(readFileSync(path.join(projectRoot, 'config', 'test.yaml'), 'utf8')) as Record<string, unknown>;
    const config = loadConfig({ env: { NODE_ENV: 'test' } });
    const leaves = (tree: Record<string, unknown>, prefix: string[] = []): Array<[string[], unknown]> =>
      Object.entries(tree).flatMap(([key, value]) => (typeof value === 'object' && value !== null && !Array.isArray(value)
        ? leaves(value as Record<string, unknown>, [...prefix, key]) : [[[...prefix, key], value] as [string[], unknown]]));
    const settings = leaves(testYaml);
    expect(settings.length).toBeGreaterThan(0);
    for (const [keyPath, value] of settings) {
      expect(keyPath.reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], config), keyPath.join('.')).toEqual(value);
    }
    expect(config.nodeEnv).toBe('test');
    expect(config.keys.algorithm).toBe('RS256'); // still the default: the files merge deeply
  });

  it('splits comma-separated cookie keys and trusted proxies', () => {
    const [a, b] = [cookieKey(), cookieKey()];
    const config = loadConfig({ env: { PORTCULLIS_COOKIE_KEYS: ` ${a}, ${b} ,`, TRUSTED_PROXIES: '10.0.0.1,10.0.0.2' } });
    expect(config.secrets.cookieKeys).toEqual([a, b]);
    expect(config.http.trustedProxies).toEqual(['10.0.0.1', '10.0.0.2']);
  });
});

describe('loadConfig precedence', () => {
  function layers() {
    const configDir = configDirWith({
      'development.yaml': 'port: 3101\nlogLevel: debug\ndatabase:\n  poolSize: 11\nmailFrom: "Env File <env@example.com>"\n',
    });
    const file = path.join(tempDir(), 'portcullis.yaml');
    writeFileSync(file, 'port: 3102\nlogLevel: warn\nkeys:\n  algorithm: ES256\n');
    return { configDir, file };
  }

  it('default.yaml < <NODE_ENV>.yaml < PORTCULLIS_CONFIG < environment variables', () => {
    const { configDir, file } = layers();
    const config = loadConfig({ configDir, env: { NODE_ENV: 'development', PORTCULLIS_CONFIG: file, PORT: '3103' } });
    expect(config.port).toBe(3103); // env beats every file
    expect(config.issuer).toBe('http://localhost:3103'); // derived from the merged port
    expect(config.logLevel).toBe('warn'); // PORTCULLIS_CONFIG beats development.yaml
    expect(config.keys.algorithm).toBe('ES256');
    expect(config.mailFrom).toBe('Env File <env@example.com>'); // development.yaml beats default.yaml
    expect(config.database.poolSize).toBe(11);
    // Nested maps merge key by key: what no override names keeps its default.
    expect(config.database.embeddedPort).toBe(54329);
    expect(config.keys.publishLeadSeconds).toBe(86400);
  });

  it('each layer wins over the one below it when the higher ones are absent', () => {
    const { configDir, file } = layers();
    expect(loadConfig({ configDir, env: { NODE_ENV: 'development' } }).port).toBe(3101);
    expect(loadConfig({ configDir, env: { NODE_ENV: 'development', PORTCULLIS_CONFIG: file } }).port).toBe(3102);
    // Another NODE_ENV reads another file: development.yaml no longer applies.
    const production = loadConfig({ configDir, env: { NODE_ENV: 'production' } });
    expect(production.port).toBe(3000);
    expect(production.logLevel).toBe('info');
  });

  it('lets overrides win over environment variables', () => {
    const { configDir } = layers();
    const config = loadConfig({ configDir, env: { NODE_ENV: 'development', PORT: '3103' }, overrides: { port: 3104 } });
    expect(config.port).toBe(3104);
    expect(config.issuer).toBe('http://localhost:3104');
  });

  it('replaces arrays from a higher layer instead of concatenating them', () => {
    const configDir = configDirWith({ 'development.yaml': 'http:\n  trustedProxies: [10.0.0.1, 10.0.0.2]\n' });
    const config = loadConfig({ configDir, env: { NODE_ENV: 'development', TRUSTED_PROXIES: '10.0.0.3' } });
    expect(config.http.trustedProxies).toEqual(['10.0.0.3']);
    expect(config.http.shutdownGraceSeconds).toBe(10);
  });
});

describe('loadConfig errors', () => {
  it('names the key path and the rule for a non-numeric PORT', () => {
    const error = configErrorOf(() => loadConfig({ env: { PORT: 'abc' } }));
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]).toMatch(/^port: .*number/i);
  });

  it('blames the port alone, not the issuer derived from it', () => {
    const error = configErrorOf(() => loadConfig({ env: { PORT: '70000' } }));
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]).toMatch(/^port: .*65535/);
  });

  it('names the rule for an authorization code that lives too long', () => {
    const error = configErrorOf(() => loadConfig({ env: {}, overrides: { ttl: { authorizationCode: 120 } } }));
    expect(error.problems).toEqual(['ttl.authorizationCode: authorization codes live at most 60 seconds']);
  });

  it('refuses an issuer with a trailing slash', () => {
    const error = configErrorOf(() => loadConfig({ env: { ISSUER: 'https://id.example.com/' } }));
    expect(error.problems).toEqual(['issuer: the issuer has no trailing slash']);
  });

  it('lists every problem at once, from every source', () => {
    const file = path.join(tempDir(), 'bad.yaml');
    writeFileSync(file, 'ttl:\n  authorizationCode: 120\nkeys:\n  algorithm: HS256\n');
    const error = configErrorOf(() => loadConfig({
      env: { PORTCULLIS_CONFIG: file, PORT: 'abc', ISSUER: 'https://id.example.com/', DATABASE_URL: 'mysql://db/x' },
    }));
    const paths = error.problems.map((problem) => problem.slice(0, problem.indexOf(':')));
    expect(paths.sort()).toEqual(['databaseUrl', 'issuer', 'keys.algorithm', 'port', 'ttl.authorizationCode']);
    expect(error.problems).toContain('databaseUrl: must be a postgres:// URL');
    expect(error.problems).toContain('ttl.authorizationCode: authorization codes live at most 60 seconds');
    // The message carries every problem too, one per line, for a boot log.
    for (const problem of error.problems) expect(error.message).toContain(problem);
  });

  it('refuses a PORTCULLIS_CONFIG that names a missing file', () => {
    const missing = path.join(tempDir(), 'nope.yaml');
    const error = configErrorOf(() => loadConfig({ env: { PORTCULLIS_CONFIG: missing } }));
    expect(error.problems).toEqual([`PORTCULLIS_CONFIG: file not found: ${missing}`]);
  });

  it('refuses a config file that is not a YAML mapping', () => {
    const file = path.join(tempDir(), 'list.yaml');
    writeFileSync(file, '- port\n- 3000\n');
    const error = configErrorOf(() => loadConfig({ env: { PORTCULLIS_CONFIG: file } }));
    expect(error.problems).toEqual([`${file}: must hold a YAML mapping`]);
  });
});

describe('resolveSecrets in production', () => {
  const safe = () => ({
    NODE_ENV: 'production', ISSUER: 'https://id.example.com', DATABASE_URL: 'postgres://db.example.com/portcullis',
    PORTCULLIS_COOKIE_KEYS: cookieKey(), PORTCULLIS_ENCRYPTION_KEY: encryptionKey(), SMTP_URL: 'smtps://mail.example.com',
  });

  it('accepts a complete production configuration without generating anything', () => {
    const dataDir = path.join(tempDir(), 'data');
    const env = safe();
    const resolved = resolveSecrets(loadConfig({ env: { ...env, DATA_DIR: dataDir } }), noWarnings);
    expect(resolved.secrets).toEqual({ cookieKeys: [env.PORTCULLIS_COOKIE_KEYS], encryptionKey: env.PORTCULLIS_ENCRYPTION_KEY });
    expect(existsSync(dataDir)).toBe(false);
  });

  it('names every refusal at once and writes no secrets file', () => {
    const dataDir = path.join(tempDir(), 'data');
    const config = loadConfig({ env: { NODE_ENV: 'production', DATA_DIR: dataDir } });
    const error = configErrorOf(() => resolveSecrets(config, noWarnings));
    expect(error.problems).toHaveLength(5);
    expect(error.problems.map((problem) => problem.slice(0, problem.indexOf(':'))).sort())
      .toEqual(['databaseUrl', 'issuer', 'secrets.cookieKeys', 'secrets.encryptionKey', 'smtpUrl']);
    expect(existsSync(path.join(dataDir, 'secrets.json'))).toBe(false);
  });

  it.each([
    ['an http issuer', { ISSUER: 'http://id.example.com' }, 'issuer: production requires an https issuer'],
    ['missing cookie keys', { PORTCULLIS_COOKIE_KEYS: undefined }, 'secrets.cookieKeys: production requires cookie keys (PORTCULLIS_COOKIE_KEYS)'],
    ['a missing encryption key', { PORTCULLIS_ENCRYPTION_KEY: undefined }, 'secrets.encryptionKey: production requires an encryption key (PORTCULLIS_ENCRYPTION_KEY)'],
    ['no DATABASE_URL', { DATABASE_URL: undefined }, 'databaseUrl: production refuses the embedded database; set DATABASE_URL'],
    ['no SMTP_URL', { SMTP_URL: undefined }, 'smtpUrl: production needs SMTP_URL; the development outbox logs one-time links'],
  ])('refuses %s, naming it', (_what, change, problem) => {
    const dataDir = path.join(tempDir(), 'data');
    const config = loadConfig({ env: { ...safe(), ...change, DATA_DIR: dataDir } });
    expect(configErrorOf(() => resolveSecrets(config, noWarnings)).problems).toEqual([problem]);
    expect(existsSync(dataDir)).toBe(false);
  });
});

describe('resolveSecrets in development', () => {
  it('generates secrets once into DATA_DIR/secrets.json (mode 0600) and reuses them', () => {
    const dataDir = path.join(tempDir(), 'nested', 'data');
    const warnings: string[] = [];
    const first = resolveSecrets(loadConfig({ env: { DATA_DIR: dataDir } }), (message) => warnings.push(message));

    const file = path.join(dataDir, 'secrets.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const stored = JSON.parse(readFileSync(file, 'utf8')) as { cookieKeys: string[]; encryptionKey: string };
    expect(first.secrets).toEqual(stored);
    expect(first.secrets.cookieKeys).toHaveLength(1);
    expect(first.secrets.cookieKeys[0]!.length).toBeGreaterThanOrEqual(32);
    expect(first.secrets.encryptionKey).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(file);

    const second = resolveSecrets(loadConfig({ env: { DATA_DIR: dataDir } }), (message) => warnings.push(message));
    expect(second.secrets).toEqual(first.secrets);
    expect(readFileSync(file, 'utf8')).toBe(JSON.stringify(stored, null, 2));
  });

  it('fills only what is missing: configured secrets win over stored ones', () => {
    const dataDir = path.join(tempDir(), 'data');
    const generated = resolveSecrets(loadConfig({ env: { DATA_DIR: dataDir } }), () => {});
    const mine = cookieKey();
    const resolved = resolveSecrets(loadConfig({ env: { DATA_DIR: dataDir, PORTCULLIS_COOKIE_KEYS: mine } }), () => {});
    expect(resolved.secrets).toEqual({ cookieKeys: [mine], encryptionKey: generated.secrets.encryptionKey });
  });

  it('writes nothing when every secret is configured', () => {
    const dataDir = path.join(tempDir(), 'data');
    const env = { DATA_DIR: dataDir, PORTCULLIS_COOKIE_KEYS: cookieKey(), PORTCULLIS_ENCRYPTION_KEY: encryptionKey() };
    const resolved = resolveSecrets(loadConfig({ env }), noWarnings);
    expect(resolved.secrets).toEqual({ cookieKeys: [env.PORTCULLIS_COOKIE_KEYS], encryptionKey: env.PORTCULLIS_ENCRYPTION_KEY });
    expect(existsSync(dataDir)).toBe(false);
  });
});
