import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, projectRoot } from '../../src/config/load-config.js';
import { resolveSecrets } from '../../src/config/resolve-secrets.js';
import { writeFileAtomic } from '../../src/infra/atomic-file.js';

const dirs: string[] = [];
afterEach(() => { while (dirs.length) rmSync(dirs.pop()!, { recursive: true, force: true }); });
function tempDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'portcullis-strict-'));
  dirs.push(dir);
  return dir;
}

function problemsOf(work: () => unknown): string[] {
  try { work(); } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

function configDirWith(files: Record<string, string>): string {
  const dir = tempDir();
  copyFileSync(path.join(projectRoot, 'config', 'default.yaml'), path.join(dir, 'default.yaml'));
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  return dir;
}

describe('unknown settings stop start-up', () => {
  it('names a misspelt top-level key, its file and the setting it probably meant', () => {
    const configDir = configDirWith({ 'development.yaml': 'acounts:\n  registrationEnabled: false\n' });
    const problems = problemsOf(() => loadConfig({ env: {}, configDir }));
    expect(problems).toEqual([
      `${path.join(configDir, 'development.yaml')}: acounts: unknown setting (did you mean "accounts"?)`,
    ]);
  });

  it('finds a nested typo in the PORTCULLIS_CONFIG file, and inside arrays of objects', () => {
    const dir = tempDir();
    const file = path.join(dir, 'site.yaml');
    writeFileSync(file, [
      'accounts:', '  registratonEnabled: false',
      'apis:', '  - identifier: https://api.example.com', '    scopes: [read]', '    rbca: true',
    ].join('\n'));
    const problems = problemsOf(() => loadConfig({ env: { PORTCULLIS_CONFIG: file } }));
    expect(problems).toEqual([
      `${file}: accounts.registratonEnabled: unknown setting (did you mean "registrationEnabled"?)`,
      `${file}: apis.0.rbca: unknown setting (did you mean "rbac"?)`,
    ]);
  });

  it('accepts every key of the shipped files', () => {
    for (const nodeEnv of ['development', 'test', 'production']) {
      expect(() => loadConfig({ env: { NODE_ENV: nodeEnv } })).not.toThrow();
    }
  });
});

describe('local state files', () => {
  it('are written whole: no temporary file is left and the mode is 0600', () => {
    const dir = tempDir();
    const file = path.join(dir, 'state.json');
    writeFileAtomic(file, '{"a":1}');
    writeFileAtomic(file, '{"a":2}');
    expect(readFileSync(file, 'utf8')).toBe('{"a":2}');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir)).toEqual(['state.json']);
  });

  it.each([
    ['empty', ''],
    ['truncated', '{"cookieKeys": ["'],
    ['missing the encryption key', JSON.stringify({ cookieKeys: [randomBytes(32).toString('base64url')] })],
  ])('a %s secrets.json stops start-up naming the file and what to do', (_name, content) => {
    const dataDir = tempDir();
    writeFileSync(path.join(dataDir, 'secrets.json'), content);
    const problems = problemsOf(() => resolveSecrets(loadConfig({ env: { DATA_DIR: dataDir } }), () => {}));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(path.join(dataDir, 'secrets.json'));
    expect(problems[0]).toMatch(/Restore it from a backup/);
  });
});
