import { AsyncLocalStorage } from 'node:async_hooks';
import type http from 'node:http';
import { Redis } from 'ioredis';
import pg from 'pg';

/** What one HTTP request did: its SQL statements and Redis commands, in order (parameters left out). */
export interface RequestWork { method: string; path: string; sql: string[]; redis: string[] }

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

const storage = new AsyncLocalStorage<RequestWork>();
let patched = false;

/**
 * Counts, per HTTP request, every statement sent on a pg client and every command sent on an
 * ioredis client while that request's code runs (AsyncLocalStorage follows it through awaits).
 * Work started elsewhere, such as the outbox worker's loop, runs outside any request and is not
 * counted, even when a request's commit wakes it.
 */
export function requestCounter() {
  if (!patched) {
    patched = true;
    const query = pg.Client.prototype.query as (...args: unknown[]) => unknown;
    pg.Client.prototype.query = function countedQuery(this: pg.Client, ...args: unknown[]) {
      const text = typeof args[0] === 'string' ? args[0] : (args[0] as { text?: string } | undefined)?.text ?? '?';
      storage.getStore()?.sql.push(text.replace(/\s+/g, ' ').trim());
      return query.apply(this, args);
    } as typeof pg.Client.prototype.query;
    const sendCommand = Redis.prototype.sendCommand as (...args: unknown[]) => unknown;
    Redis.prototype.sendCommand = function countedCommand(this: Redis, ...args: unknown[]) {
      const command = args[0] as { name?: string } | undefined;
      storage.getStore()?.redis.push(command?.name ?? '?');
      return sendCommand.apply(this, args);
    } as typeof Redis.prototype.sendCommand;
  }
  const requests: RequestWork[] = [];
  return {
    /** Wraps the app's request handler so each request runs with its own record. */
    wrap(handler: Handler): Handler {
      return (req, res) => {
        const work: RequestWork = {
          method: req.method ?? '', path: (req.url ?? '').split('?')[0]!, sql: [], redis: [],
        };
        requests.push(work);
        storage.run(work, () => handler(req, res));
      };
    },
    /** The most recent request with this method whose path matches. */
    last(method: string, path: RegExp | string): RequestWork {
      const found = requests
        .filter((r) => r.method === method && (typeof path === 'string' ? r.path === path : path.test(r.path)))
        .at(-1);
      if (!found) throw new Error(`no ${method} ${String(path)} was recorded`);
      return found;
    },
  };
}

export type RequestCounter = ReturnType<typeof requestCounter>;
