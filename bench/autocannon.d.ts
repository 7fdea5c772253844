// autocannon ships no types; this covers the part bench/loader.ts uses.
declare module 'autocannon' {
  import type { EventEmitter } from 'node:events';

  interface Request { method?: string; path?: string; headers?: Record<string, string>; body?: string }
  interface Options { url: string; connections?: number; duration?: number; requests?: Request[]; headers?: Record<string, string> }
  interface Result { duration: number; errors: number; timeouts: number; non2xx: number; requests: { total: number; average: number } }
  interface Instance extends EventEmitter, PromiseLike<Result> {
    on(event: 'response', listener: (client: unknown, status: number, bytes: number, ms: number) => void): this;
    on(event: string, listener: (...args: unknown[]) => void): this;
  }

  function autocannon(options: Options): Instance;
  export default autocannon;
}
