import { eventContent, hashEvent, type AuditEvent } from './audit-chain.js';

export interface ChainWalkStart {
  /** Walk rows with id > afterId … */
  afterId: string;
  /** … the first of which must link to this hash. */
  prevHash: string;
  /** Stop after this id (inclusive); unset: to the end. */
  untilId?: string;
}

export type ChainWalkResult =
  | { ok: true; count: number; lastId: string; lastHash: string }
  | {
    ok: false; count: number; lastId: string; lastHash: string; brokenId: string;
    reason: 'hash_mismatch' | 'prev_hash_mismatch';
  };

/**
 * Walks the chain in id order a batch at a time, checking each row's link and hash; `onEvent` sees
 * every intact row with its 1-based position in this walk. Stops at the first broken row.
 */
export async function walkChain(
  readBatch: (afterId: string, limit: number) => Promise<AuditEvent[]>,
  start: ChainWalkStart,
  batchSize: number,
  onEvent: (event: AuditEvent, position: number) => void = () => {},
): Promise<ChainWalkResult> {
  const until = start.untilId === undefined ? undefined : BigInt(start.untilId);
  let lastId = start.afterId;
  let lastHash = start.prevHash;
  let count = 0;
  for (;;) {
    const batch = await readBatch(lastId, batchSize);
    for (const event of batch) {
      if (until !== undefined && BigInt(event.id) > until) return { ok: true, count, lastId, lastHash };
      // The link first: after a deletion the survivor's own hash is still valid.
      if (event.prevHash !== lastHash) {
        return { ok: false, count, lastId, lastHash, brokenId: event.id, reason: 'prev_hash_mismatch' };
      }
      if (hashEvent(event.prevHash, eventContent(event)) !== event.hash) {
        return { ok: false, count, lastId, lastHash, brokenId: event.id, reason: 'hash_mismatch' };
      }
      count += 1;
      lastId = event.id;
      lastHash = event.hash;
      onEvent(event, count);
    }
    if (batch.length < batchSize) return { ok: true, count, lastId, lastHash };
  }
}
