/**
 * The password-hashing ceiling: raw argon2id hashes per second at the configured parameters,
 * one hash in flight per core (argon2 runs on libuv's thread pool, so one process uses every
 * core). A sign-in costs one such hash, so no sign-in rate can beat this.
 * Runs as a child of bench/run.ts: settings in BENCH_HASH (JSON), the result over IPC.
 */
import os from 'node:os';
import argon2, { type HashOptions } from 'argon2';
import { runLoad, type LoadResult } from './load-engine.js';

export interface HashSettings { memoryCost: number; timeCost: number; parallelism: number; durationMs: number }
export type HashReply = { result?: LoadResult & { concurrency: number }; error?: string };

const settings = JSON.parse(process.env.BENCH_HASH ?? 'null') as HashSettings | null;
if (!settings || !process.send) throw new Error('bench/hash-ceiling.ts runs as a child of bench/run.ts (IPC, BENCH_HASH)');

const options: HashOptions & { raw?: false } = { type: argon2.argon2id, memoryCost: settings.memoryCost, timeCost: settings.timeCost, parallelism: settings.parallelism };
const concurrency = os.availableParallelism();
let reply: HashReply;
try {
  await argon2.hash('warm-up', options);
  const result = await runLoad({
    concurrency, durationMs: settings.durationMs,
    iterate: async () => { await argon2.hash('correct horse battery staple', options); },
  });
  reply = { result: { ...result, concurrency } };
} catch (error) {
  reply = { error: error instanceof Error ? error.message : String(error) };
}
process.send(reply, () => process.disconnect());
