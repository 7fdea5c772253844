import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../../src/config/load-config.js';
import { memoryEnv, memoryNodeFlags, workerExecArgv, workerMemoryEnv } from '../../src/runtime-memory.js';

describe('memory settings', () => {
  it("adds the flags a primary lacks and keeps an operator's own value", () => {
    expect(workerExecArgv([])).toEqual([...memoryNodeFlags]);
    expect(workerExecArgv(['--heap-growing-percent=50', '--enable-source-maps'])).toEqual(['--heap-growing-percent=50', '--enable-source-maps', '--max-semi-space-size=8']);
    expect(workerMemoryEnv(undefined)).toEqual(memoryEnv);
    expect(workerMemoryEnv(65536)).toEqual({});
  });

  it('are the ones `npm start` and the Docker image apply', () => {
    const start = (JSON.parse(readFileSync(path.join(projectRoot, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts.start!;
    const dockerfile = readFileSync(path.join(projectRoot, 'Dockerfile'), 'utf8');
    const cmd = JSON.parse(/^CMD (\[.*\])$/m.exec(dockerfile)![1]!) as string[];
    for (const flag of memoryNodeFlags) {
      expect(start.split(' ')).toContain(flag);
      expect(cmd).toContain(flag);
    }
    for (const [name, value] of Object.entries(memoryEnv)) {
      expect(start).toContain(`${name}=${value} `);
      expect(dockerfile).toMatch(new RegExp(`^\\s+${name}=${value}$`, 'm'));
    }
  });
});
