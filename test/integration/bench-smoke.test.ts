import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import type { BenchResults } from '../../bench/report.js';
import { projectRoot } from '../../src/config/load-config.js';

/** `npm run bench -- --smoke` as a person would run it, against this suite's PostgreSQL and Redis. */
function runSmokeBench(dir: string): Promise<{ code: number | null; output: string }> {
  const redisUrl = inject('redisUrl');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [
      // The watchdog ends the bench (and so its servers) should this test process die first.
      '--import', 'tsx', '--import', path.join(projectRoot, 'bench/exit-with-parent.js'), path.join(projectRoot, 'bench/run.ts'), '--smoke',
      '--output', path.join(dir, 'results.md'), '--json', path.join(dir, 'results.json'), ...(redisUrl ? [] : ['--no-redis']),
    ], {
      cwd: projectRoot,
      env: {
        // The developer's own BENCH_* and WORKERS settings would change what the smoke run does.
        ...Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('BENCH_') && name !== 'WORKERS')),
        DATABASE_URL: inject('pgAdminUrl'), REDIS_URL: redisUrl ?? '',
        // Its own database, so a full bench running on the same server is left alone.
        BENCH_DATABASE: `portcullis_bench_smoke_${process.pid}`,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, output }));
  });
}

describe('npm run bench -- --smoke', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'portcullis-bench-smoke-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('runs every scenario on one process and on two instances, and every ceiling, without an error and writes the report where it was told', async () => {
    const { code, output } = await runSmokeBench(dir);
    expect(code, output).toBe(0);

    const results = JSON.parse(readFileSync(path.join(dir, 'results.json'), 'utf8')) as BenchResults;
    expect(results.runs.map((run) => [run.instances, run.workers])).toEqual([[1, 1], [2, 1]]);
    for (const run of results.runs) {
      expect(run.scenarios.map((s) => s.id)).toEqual(['client-credentials-opaque', 'client-credentials-jwt', 'login', 'refresh', 'introspection', 'userinfo', 'discovery-jwks']);
      for (const scenario of run.scenarios) {
        for (const measured of [scenario.peak, scenario.half!]) {
          expect(measured.ok, `${scenario.id}: ${measured.errorSamples.join('; ')}`).toBeGreaterThan(0);
          expect(measured.errors, `${scenario.id}: ${measured.errorSamples.join('; ')}`).toBe(0);
        }
        // Both instances' processes are sampled: one process tree each.
        expect(scenario.peak.rss!.processes, scenario.id).toBeGreaterThanOrEqual(run.instances);
      }
      expect(run.serverErrorsLogged, output).toBe(0);
    }
    expect(Object.keys(results.ceilings.provider).sort()).toEqual(['client-credentials-jwt', 'client-credentials-opaque', 'discovery-jwks', 'introspection', 'userinfo']);
    for (const [id, ceiling] of Object.entries(results.ceilings.provider)) {
      expect(ceiling.ok, id).toBeGreaterThan(0);
      expect(ceiling.errors, `${id}: ${ceiling.errorSamples.join('; ')}`).toBe(0);
    }
    expect(results.ceilings.hash!.ok).toBeGreaterThan(0);

    const markdown = readFileSync(path.join(dir, 'results.md'), 'utf8');
    expect(markdown).toContain('| Password sign-in, whole flow |');
    expect(markdown).toContain('## Portcullis, 2 instances × WORKERS=1');
    expect(markdown).toMatch(/## Instances against one process[\s\S]*\| Refresh-token rotation \| [\d.,]+ req\/s \| [\d.,]+ req\/s \| [\d.]+× \| 0 \| \d+ \/ \d+ \|/);
    expect(markdown).toContain(`Node ${process.version}`);
    expect(output).toContain(`results written to ${path.join(dir, 'results.md')}`);
  }, 300_000);
});
