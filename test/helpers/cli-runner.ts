import { expect } from 'vitest';
import { runCli } from '../../src/cli/index.js';

export interface CliResult { code: number; stdout: string; stderr: string }

/** In-process `portcullis` runs against the environment `env()` returns when called (set in beforeAll). */
export function cliRunner(env: () => Record<string, string>) {
  async function cli(argv: string[]): Promise<CliResult> {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(argv, { env: env(), write: (text) => out.push(text), writeError: (text) => err.push(text) });
    return { code, stdout: out.join('\n'), stderr: err.join('\n') };
  }
  /** Runs with --json, expects success with nothing on stderr, and parses stdout. */
  async function cliJson<T = Record<string, unknown>>(argv: string[]): Promise<T> {
    const result = await cli([...argv, '--json']);
    expect(result, result.stderr).toMatchObject({ code: 0, stderr: '' });
    return JSON.parse(result.stdout) as T;
  }
  return { cli, cliJson };
}
