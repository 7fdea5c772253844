import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { configSchema, type Config } from './schema.js';
import { unknownKeys } from './unknown-keys.js';

/** The folder holding package.json, config/ and views/: two up from src/config, three from build/src/config. */
export const projectRoot = findProjectRoot(path.dirname(fileURLToPath(import.meta.url)));

function findProjectRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

/** Thrown when the merged configuration breaks the schema; lists every problem at once. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;
type Tree = Record<string, unknown>;

function readYaml(file: string): Tree {
  if (!existsSync(file)) return {};
  const parsed: unknown = parseYaml(readFileSync(file, 'utf8'));
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new ConfigError([`${file}: must hold a YAML mapping`]);
  return parsed as Tree;
}

function isTree(value: unknown): value is Tree {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Deep merge where later sources win and arrays are replaced, not concatenated. */
export function mergeTrees(...trees: Tree[]): Tree {
  const out: Tree = {};
  for (const tree of trees) {
    for (const [key, value] of Object.entries(tree)) {
      out[key] = isTree(value) && isTree(out[key]) ? mergeTrees(out[key] as Tree, value) : value;
    }
  }
  return out;
}

function numberOrText(value: string): number | string {
  return /^\d+$/.test(value) ? Number(value) : value;
}

/** The well-known environment variables, as a config tree. */
function fromEnv(env: Env): Tree {
  const tree: Tree = {};
  const set = (keyPath: string[], value: unknown) => {
    let node = tree;
    for (const key of keyPath.slice(0, -1)) node = (node[key] ??= {}) as Tree;
    node[keyPath.at(-1)!] = value;
  };
  const simple: Array<[string, string[], (v: string) => unknown]> = [
    ['NODE_ENV', ['nodeEnv'], String],
    ['PORT', ['port'], numberOrText],
    ['WORKERS', ['workers'], numberOrText],
    ['UV_THREADPOOL_SIZE', ['threadpoolSize'], numberOrText],
    ['MALLOC_MMAP_THRESHOLD_', ['mallocMmapThreshold'], numberOrText],
    ['ISSUER', ['issuer'], String],
    ['LOG_LEVEL', ['logLevel'], String],
    ['DATA_DIR', ['dataDir'], String],
    ['DATABASE_URL', ['databaseUrl'], String],
    ['DATABASE_MIGRATION_URL', ['database', 'migrationUrl'], String],
    ['PORTCULLIS_AUDIT_CHECKPOINT_KEY', ['audit', 'checkpoint', 'key'], String],
    ['REDIS_URL', ['redisUrl'], String],
    ['REDIS_KEY_PREFIX', ['redis', 'keyPrefix'], String],
    ['SMTP_URL', ['smtpUrl'], String],
    ['MAIL_FROM', ['mailFrom'], String],
    ['PORTCULLIS_COOKIE_KEYS', ['secrets', 'cookieKeys'], (v) => v.split(',').map((k) => k.trim()).filter(Boolean)],
    ['PORTCULLIS_ENCRYPTION_KEY', ['secrets', 'encryptionKey'], String],
    ['TRUSTED_PROXIES', ['http', 'trustedProxies'], (v) => v.split(',').map((k) => k.trim()).filter(Boolean)],
  ];
  for (const [name, keyPath, convert] of simple) {
    const value = env[name];
    if (value !== undefined && value !== '') set(keyPath, convert(value));
  }
  return tree;
}

export interface LoadConfigOptions {
  env?: Env;
  /** Settings that win over every other source; tests use this. */
  overrides?: Tree;
  configDir?: string;
}

/**
 * Reads config/default.yaml, config/<NODE_ENV>.yaml, the file named by PORTCULLIS_CONFIG and the
 * environment, in that order of precedence, and validates the result with one schema.
 */
export function loadConfig(options: LoadConfigOptions = {}): Config {
  const env = options.env ?? process.env;
  const configDir = options.configDir ?? path.join(projectRoot, 'config');
  const nodeEnv = env.NODE_ENV || 'development';
  const files = [path.join(configDir, 'default.yaml'), path.join(configDir, `${nodeEnv}.yaml`)];
  if (env.PORTCULLIS_CONFIG) {
    if (!existsSync(env.PORTCULLIS_CONFIG)) throw new ConfigError([`PORTCULLIS_CONFIG: file not found: ${env.PORTCULLIS_CONFIG}`]);
    files.push(env.PORTCULLIS_CONFIG);
  }
  const sources = files.map((file) => ({ name: file, tree: readYaml(file) }));
  if (options.overrides) sources.push({ name: 'overrides', tree: options.overrides });
  const unknown = sources.flatMap(({ name, tree }) =>
    unknownKeys(configSchema, tree).map((problem) => `${name}: ${problem}`));
  if (unknown.length) throw new ConfigError(unknown);
  const merged = mergeTrees(...sources.slice(0, files.length).map(({ tree }) => tree), fromEnv(env),
    options.overrides ?? {});
  const derivedIssuer = merged.issuer === undefined;
  merged.issuer ??= `http://localhost:${String(merged.port ?? 3000)}`;

  const result = configSchema.safeParse(merged);
  if (!result.success) {
    // A derived issuer is only wrong when the port is, which is reported already under `port`.
    const issues = result.error.issues.filter((issue) => !(derivedIssuer && issue.path[0] === 'issuer'));
    throw new ConfigError(issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`));
  }
  const config = result.data;
  config.dataDir = path.resolve(config.dataDir);
  return config;
}
