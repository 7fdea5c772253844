import { pino, type Logger } from 'pino';

export type { Logger };

/** JSON logs; secrets never reach them because the redact list names every secret-bearing field. */
export function createLogger(level: string, destination: 1 | 2 = 1): Logger {
  return pino({
    level,
    base: { service: 'portcullis' },
    redact: {
      paths: ['password', '*.password', 'client_secret', '*.client_secret', 'secret', '*.secret', 'req.headers.authorization', 'req.headers.cookie', 'headers.cookie', 'headers.authorization'],
      censor: '[redacted]',
    },
  }, pino.destination({ dest: destination, sync: destination === 2 }));
}
