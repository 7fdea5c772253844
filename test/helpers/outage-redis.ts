import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './server-process.js';

/**
 * A redis-server of a test's own (free port, private directory, no persistence), so a fault test
 * can stop or kill -9 it without touching the suite's shared Redis. Named "outage" to tell it
 * from other private-Redis helpers.
 */
export interface PrivateRedis {
  url: string;
  port: number;
  /** SIGTERM: Redis closes its clients' connections and exits. */
  stop(): Promise<void>;
  /** kill -9: no goodbye, connections reset. */
  kill(): Promise<void>;
  /** Starts again on the same port (empty: nothing is persisted) and waits until it answers PING. */
  start(): Promise<void>;
  destroy(): Promise<void>;
}

async function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.setTimeout(500, () => { socket.destroy(); resolve(false); });
    socket.on('error', () => resolve(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (data) => { socket.destroy(); resolve(data.toString().startsWith('+PONG')); });
  });
}

/** redis-server on 127.0.0.1:<free port>, without RDB or AOF. */
export async function startOutageRedis(): Promise<PrivateRedis> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'portcullis-private-redis-'));
  const port = await freePort();
  let child: ChildProcess | undefined;

  async function start(): Promise<void> {
    child = spawn(
      'redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
      { stdio: 'ignore' },
    );
    const deadline = Date.now() + 10_000;
    while (!(await answersPing(port))) {
      if (Date.now() > deadline) throw new Error(`redis-server did not start on port ${port}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async function signal(name: NodeJS.Signals): Promise<void> {
    const running = child;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = once(running, 'exit');
    running.kill(name);
    await exited;
  }

  await start();
  return {
    url: `redis://127.0.0.1:${port}`, port,
    stop: () => signal('SIGTERM'),
    kill: () => signal('SIGKILL'),
    start,
    async destroy() {
      await signal('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
