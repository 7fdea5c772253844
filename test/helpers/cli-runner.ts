import { expect } from 'vitest';
import { runCli } from '../../src/cli/index.js';

export interface CliResult { code: number; stdout: string; stderr: string }

/** What one run may add: text on standard input, and variables over the base environment. */
export interface CliRunOptions { stdin?: string; env?: Record<string, string> }

async function* stdinOf(text: string): AsyncIterable<string> {
  if (text) yield text;
}

/** In-process `portcullis` runs against the environment `env()` returns when called (set in beforeAll). */
export function cliRunner(env: () => Record<string, string>) {
  async function cli(argv: string[], options: CliRunOptions = {}): Promise<CliResult> {
    const out: string[] = [];
    const err: string[] = [];
    // An empty standard input unless given, so a command that reads it never waits on the test runner's.
    const code = await runCli(argv, {
      env: { ...env(), ...options.env }, stdin: stdinOf(options.stdin ?? ''),
      write: (text) => out.push(text), writeError: (text) => err.push(text),
    });
    return { code, stdout: out.join('\n'), stderr: err.join('\n') };
  }
  /** Runs with --json, expects success with nothing on stderr, and parses stdout. */
  async function cliJson<T = Record<string, unknown>>(argv: string[], options: CliRunOptions = {}): Promise<T> {
    const result = await cli([...argv, '--json'], options);
    expect(result, result.stderr).toMatchObject({ code: 0, stderr: '' });
    return JSON.parse(result.stdout) as T;
  }
  return { cli, cliJson };
}
