import type { ParseArgsConfig } from 'node:util';
import type { Container } from '../container.js';

export type OptionValues = Record<string, string | boolean | string[] | undefined>;

export interface CliIo {
  json: boolean;
  out(text: string): void;
  readStdin(): Promise<string>;
}

export interface CliCommand {
  summary: string;
  usage?: string;
  options?: ParseArgsConfig['options'];
  run(container: Container, values: OptionValues, positionals: string[], io: CliIo): Promise<unknown>;
}

/** Thrown for bad input: the CLI prints its message as one line and exits 2. */
export class UsageError extends Error {}

/** Prints `result` as JSON (--json) or with `human` for people. */
export function print<T>(io: CliIo, result: T, human: (value: T) => string): void {
  io.out(io.json ? JSON.stringify(result, null, 2) : human(result));
}

/** `key: value` lines for people: lists space-separated, times in ISO 8601. */
export function describeRecord(record: Record<string, unknown>): string {
  const show = (value: unknown) => value instanceof Date ? value.toISOString() : Array.isArray(value) ? value.join(' ') : String(value);
  return Object.entries(record).map(([key, value]) => `${key}: ${show(value)}`).join('\n');
}

export function requireString(values: OptionValues, name: string): string {
  const value = values[name];
  if (typeof value !== 'string' || !value.trim()) throw new UsageError(`--${name} is required`);
  return value;
}

export function requirePositional(positionals: string[], what: string): string {
  const [value] = positionals;
  if (!value) throw new UsageError(`missing <${what}>`);
  return value;
}

export function stringList(values: OptionValues, name: string): string[] | undefined {
  const value = values[name];
  if (value === undefined) return undefined;
  return Array.isArray(value) ? value : [String(value)];
}
