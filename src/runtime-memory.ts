/**
 * Memory settings every server process runs with (package.json `start`, the Dockerfile's ENV and
 * CMD, the bench). Measured in bench/findings.md: without them one process grows past 300 MB
 * under load; with them it stays near 200 MB.
 *
 * - glibc raises its mmap threshold after the first large free, so argon2's 19 MiB buffers then
 *   come from per-thread arenas and stay resident (one per libuv thread). A fixed threshold keeps
 *   them mmapped, returned to the system when the hash is done.
 * - V8 lets the old generation grow up to several times what survived the last full collection
 *   before collecting again; 30 % keeps the heap close to the live set (≈ 60 MB under load), at
 *   the cost of more frequent collections. Unlike --max-old-space-size it never ends in an
 *   out-of-memory crash.
 * - The young generation's semi-spaces grow to 16 MB each under load; 8 MB saves ≈ 18 MB
 *   resident, which brought sign-in and refresh runs from ≈ 212 to ≈ 195 MB.
 */
export const memoryEnv: Readonly<Record<string, string>> = { MALLOC_MMAP_THRESHOLD_: '131072' };
export const memoryNodeFlags: readonly string[] = ['--heap-growing-percent=30', '--max-semi-space-size=8'];

/** Node flags for a cluster worker: the primary's own, plus the memory flags it was started without. */
export function workerExecArgv(primaryExecArgv: readonly string[]): string[] {
  const missing = memoryNodeFlags.filter((flag) => !primaryExecArgv.some((arg) => arg.split('=')[0] === flag.split('=')[0]));
  return [...primaryExecArgv, ...missing];
}

/**
 * Environment for a cluster worker: the malloc setting unless the operator started the primary
 * with one (config `mallocMmapThreshold`), which the workers then inherit unchanged.
 */
export function workerMemoryEnv(operatorThreshold: number | undefined): Record<string, string> {
  return operatorThreshold === undefined ? { ...memoryEnv } : {};
}
