/**
 * The one way an error object reaches a log line or a CLI message. Errors from drivers carry the
 * very values we must never log: TypeORM's QueryFailedError keeps the query, its bind parameters
 * (an argon2id hash, a token hash, an email) and the driver's `detail` ("Key (email)=(…)"); an
 * ioredis ReplyError keeps `command.args` (keys and values). Only fields that describe the failure
 * without the data survive: name, SQLSTATE/errno code, constraint, table, column, the command name,
 * an OAuth error code and status, the stack frames, and a message with parameters and
 * secret-shaped text removed. Causes and AggregateError members are serialised the same way.
 */

export interface SafeError {
  type: string;
  message: string;
  code?: string | number;
  constraint?: string;
  table?: string;
  column?: string;
  schema?: string;
  routine?: string;
  command?: string;
  error?: string;
  status?: number;
  syscall?: string;
  stack?: string;
  cause?: SafeError | string;
  errors?: Array<SafeError | string>;
}

const redacted = '[redacted]';
const maxDepth = 4;
const maxMembers = 10;
// Identifier-like values only: a constraint or table name is never user data.
const identifier = /^[A-Za-z_][\w.$-]{0,127}$/;
const codeLike = /^[A-Z0-9_]{1,64}$/i;

/** Secret-shaped text that must not survive even inside a message we otherwise keep. */
const secretPatterns: Array<[RegExp, string]> = [
  [/\$argon2(?:id|i|d)\$[^\s"',)]*/g, redacted], // password hashes
  [/\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}/g, redacted], // bcrypt hashes (imported legacy passwords)
  [/\b(Bearer|Basic|DPoP)\s+[\w~+/.=-]+/gi, `$1 ${redacted}`], // credentials from an Authorization header
  [/\beyJ[\w-]+\.[\w-]+\.[\w-]*/g, redacted], // JWTs (tokens, logout tokens, request objects)
  [/(\w+:\/\/)[^/\s:@]*:[^/\s@]*@/g, `$1${redacted}@`], // userinfo in a DSN: postgres://user:password@host
  [/[A-Za-z0-9_+/-]{32,}={0,2}/g, redacted], // long random strings: tokens, codes, keys, hashes
];

/** Removes the given values and anything secret-shaped from a message. */
export function scrubText(text: string, values: unknown[] = []): string {
  let out = text;
  for (const value of values) {
    const literal = typeof value === 'string' ? value : Buffer.isBuffer(value) ? value.toString('utf8') : undefined;
    if (literal && literal.length >= 3) out = out.split(literal).join(redacted);
  }
  // PostgreSQL quotes the offending input after a colon: `invalid input syntax for type uuid: "…"`.
  out = out.replace(/: "(?:[^"\\]|\\.)*"/g, `: "${redacted}"`);
  for (const [pattern, replacement] of secretPatterns) out = out.replace(pattern, replacement);
  return out.replace(/\0/g, '\\0');
}

function pickIdentifier(value: unknown): string | undefined {
  return typeof value === 'string' && identifier.test(value) ? value : undefined;
}

/** The values a driver error carries that its message might quote back. */
function carriedValues(error: Record<string, unknown>): unknown[] {
  const values: unknown[] = [];
  if (Array.isArray(error.parameters)) values.push(...error.parameters);
  const command = error.command as { args?: unknown[] } | undefined;
  if (command && Array.isArray(command.args)) values.push(...command.args);
  const driver = error.driverError as { parameters?: unknown[] } | undefined;
  if (driver && Array.isArray(driver.parameters)) values.push(...driver.parameters);
  // Longest first, so a value containing another is removed whole.
  return values.filter((value) => typeof value === 'string' || Buffer.isBuffer(value))
    .sort((a, b) => String(b).length - String(a).length);
}

function stackFrames(stack: unknown): string | undefined {
  if (typeof stack !== 'string') return undefined;
  const frames = stack.split('\n').filter((line) => /^\s+at /.test(line)).slice(0, 20);
  return frames.length ? frames.join('\n') : undefined;
}

function serialise(value: unknown, depth: number, seen: Set<unknown>): SafeError | string {
  if (value === null || typeof value !== 'object') return scrubText(String(value));
  if (seen.has(value) || depth > maxDepth) return '[circular or too deep]';
  seen.add(value);
  const error = value as Record<string, unknown>;
  const values = carriedValues(error);
  const name = typeof error.name === 'string' ? error.name : (value as object).constructor?.name ?? 'Error';
  const message = scrubText(typeof error.message === 'string' ? error.message : '', values);
  const safe: SafeError = { type: scrubText(name), message };
  const code = error.code ?? error.errno;
  if (typeof code === 'number' || (typeof code === 'string' && codeLike.test(code))) safe.code = code;
  for (const key of ['constraint', 'table', 'column', 'schema', 'routine', 'syscall'] as const) {
    const picked = pickIdentifier(error[key]);
    if (picked) safe[key] = picked;
  }
  const command = error.command as { name?: unknown } | undefined;
  const commandName = pickIdentifier(command?.name);
  if (commandName) safe.command = commandName;
  const oauthCode = pickIdentifier(error.error);
  if (oauthCode) safe.error = oauthCode;
  const status = error.statusCode ?? error.status;
  if (typeof status === 'number') safe.status = status;
  const frames = stackFrames(error.stack);
  if (frames) safe.stack = `${safe.type}: ${message}\n${frames}`;
  if (error.cause !== undefined) safe.cause = serialise(error.cause, depth + 1, seen);
  if (Array.isArray(error.errors)) {
    safe.errors = error.errors.slice(0, maxMembers).map((member) => serialise(member, depth + 1, seen));
  }
  return safe;
}

/** Serialises any thrown value into fields that are safe to log (pino's `err` serializer). */
export function safeError(value: unknown): SafeError {
  const safe = serialise(value, 0, new Set());
  return typeof safe === 'string' ? { type: 'NonError', message: safe } : safe;
}

/** A one-line, parameter-free description of an error for CLI and start-up messages. */
export function safeErrorMessage(value: unknown): string {
  if (value instanceof Error || (value && typeof value === 'object')) return safeError(value).message;
  return scrubText(String(value));
}
