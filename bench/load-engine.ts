import { setTimeout as sleep } from 'node:timers/promises';

/** What one measured run produced, in the loader's units (an HTTP request or a whole flow). */
export interface LoadResult {
  /** Iterations that finished without an error. */
  ok: number;
  errors: number;
  /** Wall-clock seconds the measurement lasted. */
  seconds: number;
  /** Successful iterations per second. */
  throughput: number;
  p50: number;
  p95: number;
  p99: number;
  /** A few distinct error messages, so a report says what went wrong. */
  errorSamples: string[];
}

/** Nearest-rank percentile of an ascending array, in milliseconds. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

/** Collects latencies and errors; `result()` summarises them. */
export function createRecorder() {
  let latencies = new Float64Array(1 << 16);
  let count = 0;
  let errors = 0;
  const samples = new Set<string>();
  return {
    success(ms: number) {
      if (count === latencies.length) {
        const grown = new Float64Array(latencies.length * 2);
        grown.set(latencies);
        latencies = grown;
      }
      latencies[count++] = ms;
    },
    failure(message: string) {
      errors++;
      if (samples.size < 5) samples.add(message.slice(0, 300));
    },
    result(seconds: number): LoadResult {
      const sorted = latencies.slice(0, count).sort();
      const round = (ms: number) => Math.round(ms * 100) / 100;
      return {
        ok: count, errors, seconds, throughput: count / seconds,
        p50: round(percentile(sorted, 50)), p95: round(percentile(sorted, 95)), p99: round(percentile(sorted, 99)),
        errorSamples: [...samples],
      };
    },
  };
}

export interface LoadOptions {
  /** Virtual users: iterations in flight at once. */
  concurrency: number;
  durationMs: number;
  /**
   * Iterations per second across all virtual users, started at evenly spaced instants; unset runs
   * flat out. Even spacing matters: autocannon's rate limit releases each connection's quota at the
   * start of every second, a burst that measures peak latency, not latency at that rate.
   */
  rate?: number;
  /** One iteration (a request, or a whole multi-request flow) for virtual user `vu`. */
  iterate(vu: number): Promise<void>;
}

/**
 * Closed-loop virtual users, optionally paced: each takes the next start slot, waits for it,
 * runs one iteration and records its latency (from its actual start to its end) or its error.
 */
export async function runLoad({ concurrency, durationMs, rate, iterate }: LoadOptions): Promise<LoadResult> {
  const recorder = createRecorder();
  const started = performance.now();
  const deadline = started + durationMs;
  let nextSlot = started;
  const interval = rate ? 1000 / rate : 0;

  async function virtualUser(vu: number) {
    for (;;) {
      let begin = performance.now();
      if (interval) {
        const slot = nextSlot;
        nextSlot += interval;
        if (slot >= deadline) return;
        if (slot > begin) await sleep(slot - begin);
        begin = performance.now();
      } else if (begin >= deadline) {
        return;
      }
      try {
        await iterate(vu);
        recorder.success(performance.now() - begin);
      } catch (error) {
        recorder.failure(error instanceof Error ? error.message : String(error));
      }
    }
  }

  await Promise.all(Array.from({ length: concurrency }, (_unused, vu) => virtualUser(vu)));
  return recorder.result((performance.now() - started) / 1000);
}
