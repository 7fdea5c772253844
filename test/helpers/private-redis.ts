import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { createRedis, type RedisClient } from '../../src/infra/redis.js';

/** A redis-server of the test's own, on a free loopback port, that the test may flush or restart. */
export interface PrivateRedis {
  url: string;
  /** A client without key prefix, to empty this private server (flushall) and the like. */
  admin: RedisClient;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Polls PING until the server answers (bounded), instead of sleeping. */
async function waitForPing(client: RedisClient, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}`);
    try {
      if (await client.ping() === 'PONG') return;
    } catch {
      if (Date.now() > deadline) throw new Error('redis-server did not answer PING within 10 s');
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Starts redis-server with no persistence (a restart comes back empty, like a flushed cache). */
export async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  const child = spawn(
    'redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  const url = `redis://127.0.0.1:${port}`;
  const admin = createRedis(url);
  // Refused connections while the server starts are expected; PING below waits them out.
  admin.on('error', () => {});
  await waitForPing(admin, child);
  return {
    url, admin,
    async stop() {
      await admin.quit().catch(() => admin.disconnect());
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
    },
  };
}
