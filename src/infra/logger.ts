import { pino, type DestinationStream, type Logger } from 'pino';
import { safeError } from './safe-error.js';

export type { Logger };

/** Fields that hold a secret wherever they appear (top level or one level down). */
// Not `code`: SQLSTATEs and exit codes are logged under that name; error objects go through safeError.
const secretFields = [
  'password', 'newPassword', 'currentPassword', 'current', 'passwordHash', 'password_hash',
  'client_secret', 'clientSecret', 'secret', 'token', 'accessToken', 'access_token', 'refresh_token', 'refreshToken',
  'id_token', 'idToken', 'authorizationCode', 'userCode', 'codes', 'otp', 'recoveryCodes',
  'cookieKeys', 'encryptionKey', 'privateJwk', 'jwks', 'parameters', 'databaseUrl', 'redisUrl', 'smtpUrl',
];
const headerFields = ['authorization', 'cookie', '["set-cookie"]', '["x-api-key"]'];

/** The redaction list: secret-bearing fields and the headers that carry credentials. */
export const redactPaths = [
  ...secretFields.flatMap((field) => [field, `*.${field}`]),
  ...headerFields.flatMap((field) => [`req.headers.${field}`, `headers.${field}`, `res.headers.${field}`]),
];

/**
 * JSON logs; secrets never reach them: every error object goes through safeError (no bind
 * parameters, no Redis command arguments, no secret-shaped text) and the redact list names the
 * secret-bearing fields. `destination` is a file descriptor, or a stream (tests read the lines).
 */
export function createLogger(level: string, destination: 1 | 2 | DestinationStream = 1): Logger {
  const stream = typeof destination === 'number'
    ? pino.destination({ dest: destination, sync: destination === 2 }) : destination;
  return pino({
    level,
    base: { service: 'portcullis' },
    serializers: { err: safeError, error: safeError, cause: safeError },
    redact: { paths: redactPaths, censor: '[redacted]' },
  }, stream);
}
