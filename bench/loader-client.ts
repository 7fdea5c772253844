import type { LoadResult } from './load-engine.js';
import type { LoaderJob, LoaderMessage, LoaderReply } from './loader.js';
import { forkScript } from './processes.js';

/** The loader process and a promise-per-job view of its IPC channel. */
export function startLoader() {
  const child = forkScript('loader.ts');
  const pending = new Map<number, { resolve(result: LoadResult): void; reject(error: Error): void }>();
  let nextId = 0;
  child.on('message', (reply: LoaderReply) => {
    const waiter = pending.get(reply.id);
    pending.delete(reply.id);
    if (reply.result) waiter?.resolve(reply.result);
    else waiter?.reject(new Error(`loader: ${reply.error}`));
  });
  child.once('exit', (code, signal) => {
    for (const waiter of pending.values()) waiter.reject(new Error(`the loader exited (${signal ?? code})`));
    pending.clear();
  });
  return {
    child,
    run(job: LoaderJob): Promise<LoadResult> {
      return new Promise((resolve, reject) => {
        const id = nextId++;
        pending.set(id, { resolve, reject });
        child.send({ id, job } satisfies LoaderMessage);
      });
    },
  };
}
export type Loader = ReturnType<typeof startLoader>;

