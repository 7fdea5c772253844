import type { Logger } from './logger.js';
import { dependencyOf, type Dependency } from './dependency-failure.js';

export interface DependencyProbe { name: Dependency; check(): Promise<void> }

export interface DependencyHealthOptions {
  logger: Logger;
  /** Bounded checks, one per dependency (dependency-probes.ts); used to find what is down and when it is back. */
  probes: DependencyProbe[];
  /** How often a down dependency is probed until it answers again. */
  probeIntervalMs?: number;
  /** Failed requests are logged as one count per interval, never one line per request. */
  summaryIntervalMs?: number;
  now?: () => number;
}

interface State { downSince?: number; probing: boolean }

/**
 * Remembers which dependency is down and logs only state changes ("redis unavailable",
 * "redis back after 20 s") plus one rate-limited count of failed requests, so an outage does not
 * flood the log with a stack per request.
 */
export function createDependencyHealth(options: DependencyHealthOptions) {
  const { logger, probes, probeIntervalMs = 1000, summaryIntervalMs = 10_000, now = Date.now } = options;
  const states = new Map<Dependency, State>(probes.map((probe) => [probe.name, { probing: false }]));
  const timers = new Set<NodeJS.Timeout>();
  const failures = new Map<Dependency | 'unknown', number>();
  let stopped = false;
  let summaryTimer: NodeJS.Timeout | undefined;

  function later(fn: () => void, ms: number): void {
    if (stopped) return;
    const timer = setTimeout(() => { timers.delete(timer); fn(); }, ms);
    timer.unref();
    timers.add(timer);
  }

  function markDown(name: Dependency, error: unknown): void {
    const state = states.get(name);
    if (!state) return;
    if (state.downSince === undefined) {
      state.downSince = now();
      const reason = error instanceof Error ? error.message : String(error);
      logger.error({ dependency: name, reason }, `${name} unavailable`);
    }
    if (!state.probing) probeUntilBack(name);
  }

  function markUp(name: Dependency): void {
    const state = states.get(name);
    if (!state || state.downSince === undefined) return;
    const seconds = Math.round((now() - state.downSince) / 1000);
    state.downSince = undefined;
    logger.info({ dependency: name, downSeconds: seconds }, `${name} back after ${seconds} s`);
  }

  function probeUntilBack(name: Dependency): void {
    const state = states.get(name)!;
    const probe = probes.find((candidate) => candidate.name === name)!;
    state.probing = true;
    probe.check().then(() => { state.probing = false; markUp(name); }, () => {
      if (state.downSince === undefined) state.downSince = now();
      later(() => probeUntilBack(name), probeIntervalMs);
    });
  }

  /** Probes `name` once unless it is known down (then its probe loop is already running). */
  function verify(name: Dependency): void {
    const state = states.get(name);
    if (!state || state.downSince !== undefined || state.probing) return;
    const probe = probes.find((candidate) => candidate.name === name)!;
    state.probing = true;
    probe.check().then(
      () => { state.probing = false; },
      (error: unknown) => { state.probing = false; markDown(name, error); },
    );
  }

  function summarise(): void {
    summaryTimer = undefined;
    for (const [name, count] of failures) {
      const fields = { dependency: name, failedRequests: count, intervalSeconds: summaryIntervalMs / 1000 };
      logger.warn(fields, `${name}: ${count} requests failed with 503`);
    }
    failures.clear();
  }

  return {
    /**
     * A request failed on `error`, already known to be a dependency failure: count it, and let a
     * probe decide whether the store is down (a pool wait or a statement timeout is not an outage;
     * a bare ECONNREFUSED names no store, so each is probed).
     */
    requestFailed(error: unknown): void {
      const known = dependencyOf(error);
      const attributed = known === 'postgres' || known === 'redis' ? known : 'unknown';
      failures.set(attributed, (failures.get(attributed) ?? 0) + 1);
      for (const name of attributed === 'unknown' ? [...states.keys()] : [attributed]) verify(name);
      if (!summaryTimer && !stopped) { summaryTimer = setTimeout(summarise, summaryIntervalMs); summaryTimer.unref(); }
    },
    /** A client reported its connection lost (ioredis 'error'/'close'): down until a probe answers. */
    connectionLost: markDown,
    /** A client reported it is connected again (ioredis 'ready'). */
    connectionRestored: markUp,
    /** The probes for /readyz: their answers also move the state, so readiness and the log agree. */
    readinessChecks(): DependencyProbe[] {
      return probes.map((probe) => ({
        name: probe.name,
        async check() {
          try {
            await probe.check();
          } catch (error) {
            markDown(probe.name, error);
            throw error;
          }
          markUp(probe.name);
        },
      }));
    },
    /** The dependencies believed down right now. */
    down(): Dependency[] {
      return [...states].filter(([, state]) => state.downSince !== undefined).map(([name]) => name);
    },
    stop(): void {
      stopped = true;
      for (const timer of timers) clearTimeout(timer);
      if (summaryTimer) clearTimeout(summaryTimer);
    },
  };
}

export type DependencyHealth = ReturnType<typeof createDependencyHealth>;
