import type { Machine } from './environment.js';
import type { LoadResult } from './load-engine.js';
import type { RssPeak } from './processes.js';
import type { Scenario } from './scenarios.js';

/** One measured run: the loader's figures plus the server's peak memory while it ran. */
export interface Measurement extends LoadResult {
  rss?: RssPeak;
  /** The paced rate asked for. */
  rate?: number;
  /** CPU used meanwhile by processes outside the bench and the databases, % of all cores. */
  otherCpu?: number;
  /** How busy all cores were meanwhile, % (everything: the server, loader, databases, kernel). */
  machineCpu?: number;
}

export interface ScenarioOutcome {
  id: string;
  title: string;
  unit: string;
  peak: Measurement;
  half?: Measurement;
  ceiling?: { name: string; throughput: number };
  /** Peak throughput over the ceiling's. */
  ratio?: number;
  /** Issue 7's targets this run missed, in words; empty when all were met. */
  misses: string[];
}

export interface WorkersRun {
  workers: number;
  /** Server instances (separate process trees, ports) sharing the database and Redis. */
  instances: number;
  /** Memory once ready, before any load: the baseline the scenarios' peaks grow from. */
  idleRss?: RssPeak;
  scenarios: ScenarioOutcome[];
  serverErrorsLogged: number;
  serverErrorSample?: string;
}

export interface BenchResults {
  machine: Machine;
  settings: Record<string, string | number | boolean>;
  ceilings: { provider: Record<string, Measurement>; hash?: Measurement & { concurrency: number } };
  runs: WorkersRun[];
}

/** Targets every scenario shares (issue 7). */
export const targets = { halfPeakP99Ms: 50, rssPerProcessMiB: 200 };

const thousands = (n: number) => Math.round(n).toLocaleString('en-US');
const rate = (n: number) => (n >= 100 ? thousands(n) : n.toFixed(1));
const ms = (n: number) => (n < 10 ? n.toFixed(2) : n.toFixed(1));

/** The targets a scenario missed, in words. */
export function missedTargets(scenario: Scenario, outcome: Omit<ScenarioOutcome, 'misses'>): string[] {
  const misses: string[] = [];
  if (scenario.minThroughput !== undefined && outcome.peak.throughput < scenario.minThroughput) misses.push(`throughput < ${thousands(scenario.minThroughput)}/s`);
  if (scenario.minRatio !== undefined && outcome.ratio !== undefined && outcome.ratio < scenario.minRatio) misses.push(`ratio < ${scenario.minRatio}`);
  if (outcome.peak.errors > 0) misses.push(`${outcome.peak.errors} errors at peak`);
  if (outcome.half) {
    if (outcome.half.p99 >= targets.halfPeakP99Ms) misses.push(`½-peak p99 ≥ ${targets.halfPeakP99Ms} ms`);
    if (outcome.half.errors > 0) misses.push(`${outcome.half.errors} errors at ½ peak`);
  }
  const rss = Math.max(outcome.peak.rss?.perProcess ?? 0, outcome.half?.rss?.perProcess ?? 0);
  if (rss > targets.rssPerProcessMiB) misses.push(`RSS > ${targets.rssPerProcessMiB} MB`);
  return misses;
}

const textColumns = new Set(['Scenario', 'Ceiling', 'Targets']);

function table(header: string[], rows: string[][]): string {
  const align = header.map((h) => (textColumns.has(h) ? '---' : '---:'));
  return [header, align, ...rows].map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}

export const setupName = ({ workers, instances }: Pick<WorkersRun, 'workers' | 'instances'>) => (instances > 1 ? `${instances} instances × WORKERS=${workers}` : `WORKERS=${workers}`);

/**
 * Several instances against one single-process server: does throughput add up when instances
 * share PostgreSQL and Redis? Undefined without both runs.
 */
export function scalingTable(results: BenchResults): string | undefined {
  const single = results.runs.find((run) => run.instances === 1 && run.workers === 1);
  const several = results.runs.find((run) => run.instances > 1);
  if (!single || !several) return undefined;
  const rows = several.scenarios.flatMap((s) => {
    const one = single.scenarios.find((o) => o.id === s.id);
    if (!one || one.peak.throughput === 0) return [];
    const cpu = (m: Measurement) => (m.machineCpu === undefined ? '–' : String(m.machineCpu));
    return [[
      s.title, `${rate(one.peak.throughput)} ${s.unit}`, `${rate(s.peak.throughput)} ${s.unit}`, `${(s.peak.throughput / one.peak.throughput).toFixed(2)}×`,
      String(s.peak.errors + (s.half?.errors ?? 0)), `${cpu(one.peak)} / ${cpu(s.peak)}`,
    ]];
  });
  return table(['Scenario', 'One process', `${several.instances} instances`, 'Ratio', 'Errors', 'Machine CPU % (one / instances)'], rows);
}

/** The main table of one WORKERS setting: our figures, the ceiling, half-peak latency, targets. */
export function scenarioTable(run: WorkersRun): string {
  const rows = run.scenarios.map((s) => {
    const rss = Math.max(s.peak.rss?.perProcess ?? 0, s.half?.rss?.perProcess ?? 0);
    const processes = Math.max(s.peak.rss?.processes ?? 1, s.half?.rss?.processes ?? 1);
    const total = Math.max(s.peak.rss?.total ?? 0, s.half?.rss?.total ?? 0);
    return [
      s.title, `${rate(s.peak.throughput)} ${s.unit}`, ms(s.peak.p50), ms(s.peak.p95), ms(s.peak.p99), String(s.peak.errors), processes > 1 ? `${rss} (${processes} processes: ${total})` : String(rss),
      s.ceiling ? `${rate(s.ceiling.throughput)} (${s.ceiling.name})` : '–', s.ratio !== undefined ? `${s.ratio.toFixed(2)}×` : '–',
      s.half ? rate(s.half.throughput) : '–', s.half ? ms(s.half.p99) : '–', s.half ? String(s.half.errors) : '–',
      String(Math.max(s.peak.otherCpu ?? 0, s.half?.otherCpu ?? 0)),
      s.misses.length ? `missed: ${s.misses.join('; ')}` : 'met',
    ];
  });
  return table(['Scenario', 'Throughput', 'p50 ms', 'p95 ms', 'p99 ms', 'Errors', 'Peak RSS MB', 'Ceiling /s', 'Ours/ceiling', '½-peak /s', '½-peak p99 ms', '½-peak errors', 'Other CPU %', 'Targets'], rows);
}

export function ceilingTable(results: BenchResults): string {
  const rows = Object.entries(results.ceilings.provider).map(([id, m]) => [
    `oidc-provider (memory adapter): ${id}`, `${rate(m.throughput)} req/s`, ms(m.p50), ms(m.p95), ms(m.p99), String(m.errors), String(m.rss?.perProcess ?? '–'), String(m.otherCpu ?? '–'),
  ]);
  const hash = results.ceilings.hash;
  if (hash) rows.push([`argon2id hashes, ${hash.concurrency} in flight`, `${rate(hash.throughput)} hashes/s`, ms(hash.p50), ms(hash.p95), ms(hash.p99), String(hash.errors), String(hash.rss?.perProcess ?? '–'), String(hash.otherCpu ?? '–')]);
  return table(['Ceiling', 'Throughput', 'p50 ms', 'p95 ms', 'p99 ms', 'Errors', 'Peak RSS MB', 'Other CPU %'], rows);
}

/** Above this much CPU used by other processes (% of all cores), a measurement is flagged as disturbed. */
export const quietMachineOtherCpu = 5;

/** The largest share of the CPU other processes took during any measurement of the run. */
export function busiestOtherCpu(results: BenchResults): number {
  const measurements = [
    ...Object.values(results.ceilings.provider), ...(results.ceilings.hash ? [results.ceilings.hash] : []),
    ...results.runs.flatMap((run) => run.scenarios.flatMap((s) => [s.peak, ...(s.half ? [s.half] : [])])),
  ];
  return Math.max(0, ...measurements.map((m) => m.otherCpu ?? 0));
}

/** A warning line when the machine was busy with other work, or undefined when it was quiet. */
export function disturbanceWarning(results: BenchResults): string | undefined {
  const busiest = busiestOtherCpu(results);
  if (busiest <= quietMachineOtherCpu) return undefined;
  return `**The machine was not quiet**: other processes took up to ${busiest}% of the CPU during some measurements (column "Other CPU %"). Those rows understate what Portcullis can do; run the bench again on a quiet machine.`;
}

/** bench/results.md: the machine, the settings, and the tables. */
export function markdownReport(results: BenchResults): string {
  const { machine, settings } = results;
  const warning = disturbanceWarning(results);
  const lines = [
    '# Portcullis benchmark results',
    '',
    'Written by `npm run bench` (see README "Performance"); every number below comes from the run described here.',
    '',
    `- Date: ${machine.date}`,
    `- Commit: ${machine.commit}`,
    `- Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB RAM, ${machine.os}`,
    `- Node ${machine.node}`,
    `- Settings: ${Object.entries(settings).map(([key, value]) => `${key}=${value}`).join(', ')}`,
    '',
    'Latencies are per request (per whole flow for sign-in), from sending to the full response. Peak runs',
    'go flat out; ½-peak runs are paced evenly at half the peak rate. Peak RSS is the largest resident set',
    'of any one server process while the scenario ran (with several, their count and sum follow). Other CPU % is',
    'the CPU that processes outside the bench and the databases used meanwhile, as a share of all cores: above a',
    'few percent, the machine was not quiet and the figures understate what it can do.',
    '',
    ...(warning ? [warning, ''] : []),
  ];
  for (const run of results.runs) {
    lines.push(`## Portcullis, ${setupName(run)}`, '', scenarioTable(run), '');
    if (run.instances > 1) lines.push(`${run.instances} separate servers on their own ports, one PostgreSQL database and one Redis, all answering for the first one's issuer. Requests take the instances in turn, so a sign-in flow's pages, its code exchange and each refresh-token rotation cross between them: sessions, interactions, codes and rotated refresh tokens made on one are honoured (or refused) by the other.`, '');
    if (run.idleRss) lines.push(`RSS once ready, before any load: ${run.idleRss.perProcess} MB for the largest process${run.idleRss.processes > 1 ? ` (${run.idleRss.processes} processes: ${run.idleRss.total} MB)` : ''}.`, '');
    lines.push(`Server errors logged during the run: ${run.serverErrorsLogged}${run.serverErrorSample ? ` (first: ${run.serverErrorSample})` : ''}.`, '');
    const samples = run.scenarios.flatMap((s) => [...s.peak.errorSamples, ...(s.half?.errorSamples ?? [])].map((e) => `- ${s.id}: ${e}`));
    if (samples.length) lines.push('Error samples:', '', ...samples, '');
  }
  const scaling = scalingTable(results);
  if (scaling) lines.push('## Instances against one process', '', 'Peak throughput of the instances above against the single process (WORKERS=1) of the same run, and how busy all cores of the machine were during each peak run. The instances, the loader, PostgreSQL and Redis share those cores: once one process already keeps the machine near 100 %, a second instance can only take CPU from the others, so throughput can add up only where the single process left cores idle.', '', scaling, '');
  lines.push('## Ceilings', '', ceilingTable(results), '');
  return `${lines.join('\n')}\n`;
}
