import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import path from 'node:path';
import { projectRoot } from '../../src/config/load-config.js';

/** A loopback port nothing listens on right now, for a process that binds it itself. */
export async function freePort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  server.close();
  return port;
}

/**
 * The real server as `npm start` and the Docker image run it (the compiled build/src/main.js,
 * which the suite's global setup builds), in a process of its own with only `env`.
 */
export function spawnServer(env: NodeJS.ProcessEnv): ChildProcess {
  return spawn(process.execPath, [path.join(projectRoot, 'build/src/main.js')], { env, cwd: projectRoot });
}

/** Kills a server process a test left running and waits until it is gone. */
export async function killServer(child: ChildProcess | undefined): Promise<void> {
  if (child?.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGKILL');
  await once(child, 'exit');
}

/** Resolves with the process' output once a line matches, rejects if it exits first. */
export function waitForLine(child: ChildProcess, pattern: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let output = '';
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (pattern.test(output)) resolve(output);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    child.once('exit', (code) => reject(new Error(`exited with ${code} before ${pattern}: ${output}`)));
  });
}

