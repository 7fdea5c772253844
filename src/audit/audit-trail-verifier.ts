import { GENESIS_PREV_HASH } from './audit-chain.js';
import { walkChain } from './audit-chain-walk.js';
import type { AuditCheckpoint, AuditCheckpointRepository } from './audit-checkpoint-repository.js';
import { payloadMatches } from './audit-checkpoint-service.js';
import type { AuditRepository } from './audit-repository.js';
import type { AuditVerifyResult } from './audit-service.js';
import { checkpointDigest, type CheckpointSigner } from './checkpoint-signer.js';

/**
 * What is wrong with one checkpoint: `bad_signature` — not signed by the configured key (forged, or
 * another key); `payload_mismatch` — the row's columns differ from what was signed; `prev_mismatch` —
 * it does not follow the checkpoint before it (one was removed or inserted); `truncated` — its last
 * event is gone from the chain (rows deleted up to or through it); `hash_mismatch` — that event's hash
 * differs; `count_mismatch` — the chain up to that event is not as long as it was.
 */
export interface CheckpointProblem {
  checkpointId: string;
  problem: 'bad_signature' | 'payload_mismatch' | 'prev_mismatch' | 'truncated' | 'hash_mismatch' | 'count_mismatch';
  lastEventId: string;
  /** For `truncated`: the newest event still there, and how many events the checkpoint counted and the chain has. */
  chainEndsAt?: string;
  expectedCount?: number;
  foundCount?: number;
}

export interface CheckpointSummary {
  total: number;
  /** Signatures were checked (a key is configured). */
  signaturesChecked: boolean;
  newest: { id: string; lastEventId: string; createdAt: string } | null;
  /** Events after the newest checkpoint: the window an owner could still remove undetected (export them off-box). */
  uncoveredEvents: number;
  problems: CheckpointProblem[];
}

export type AuditTrailResult = AuditVerifyResult & { checkpoints?: CheckpointSummary };

export interface AuditTrailVerifierDeps {
  events: AuditRepository;
  checkpoints: AuditCheckpointRepository;
  signer?: CheckpointSigner;
  batchSize?: number;
}

async function checkSignatures(
  checkpoints: AuditCheckpoint[], signer: CheckpointSigner | undefined, problems: CheckpointProblem[],
) {
  let previous: AuditCheckpoint | undefined;
  for (const checkpoint of checkpoints) {
    const report = (problem: CheckpointProblem['problem']) =>
      problems.push({ checkpointId: checkpoint.id, problem, lastEventId: checkpoint.lastEventId });
    if (signer) {
      const payload = await signer.verify(checkpoint.jws).catch(() => undefined);
      if (!payload) report('bad_signature');
      else if (!payloadMatches(checkpoint, payload)) report('payload_mismatch');
      else if (payload.prev !== (previous ? checkpointDigest(previous.jws) : null)) report('prev_mismatch');
    }
    previous = checkpoint;
  }
}

/**
 * `audit verify`: the hash chain, every checkpoint's signature and links, and that every checkpointed
 * (id, hash) is still in the chain at the position it was, so deleting the newest rows shows.
 */
export function createAuditTrailVerifier(deps: AuditTrailVerifierDeps) {
  const batchSize = deps.batchSize ?? 500;
  return async function verifyTrail(): Promise<AuditTrailResult> {
    const checkpoints: AuditCheckpoint[] = [];
    for (let afterId = '0'; ;) {
      const batch = await deps.checkpoints.readBatch(afterId, batchSize);
      checkpoints.push(...batch);
      if (batch.length < batchSize) break;
      afterId = batch.at(-1)!.id;
    }
    const problems: CheckpointProblem[] = [];
    await checkSignatures(checkpoints, deps.signer, problems);
    const byEvent = new Map<string, AuditCheckpoint[]>();
    for (const checkpoint of checkpoints) {
      byEvent.set(checkpoint.lastEventId, [...(byEvent.get(checkpoint.lastEventId) ?? []), checkpoint]);
    }
    const seen = new Set<string>();
    const check = (checkpoint: AuditCheckpoint, hash: string, position: number) => {
      seen.add(checkpoint.id);
      const base = { checkpointId: checkpoint.id, lastEventId: checkpoint.lastEventId };
      if (hash !== checkpoint.lastHash) problems.push({ ...base, problem: 'hash_mismatch' });
      else if (position !== checkpoint.count) {
        problems.push({ ...base, problem: 'count_mismatch', expectedCount: checkpoint.count, foundCount: position });
      }
    };
    for (const checkpoint of byEvent.get('0') ?? []) check(checkpoint, GENESIS_PREV_HASH, 0);

    const readEvents = (afterId: string, limit: number) => deps.events.readBatch(afterId, limit);
    const chain = await walkChain(readEvents, { afterId: '0', prevHash: GENESIS_PREV_HASH }, batchSize,
      (event, position) => {
        for (const checkpoint of byEvent.get(event.id) ?? []) check(checkpoint, event.hash, position);
      });
    // A checkpoint whose event is not in the verified chain: rows were deleted up to or through it
    // (beyond a break the walk did not reach, nothing can be said, and the break is reported).
    const reached = (c: AuditCheckpoint) => chain.ok || BigInt(c.lastEventId) < BigInt(chain.brokenId);
    for (const checkpoint of checkpoints.filter((c) => !seen.has(c.id) && reached(c))) {
      problems.push({
        checkpointId: checkpoint.id, problem: 'truncated', lastEventId: checkpoint.lastEventId,
        chainEndsAt: chain.lastId, expectedCount: checkpoint.count, foundCount: chain.count,
      });
    }
    problems.sort((a, b) => Number(BigInt(a.checkpointId) - BigInt(b.checkpointId)));
    const result: AuditVerifyResult = chain.ok
      ? { ok: true, count: chain.count }
      : { ok: false, count: chain.count, brokenId: chain.brokenId, reason: chain.reason };
    if (!deps.signer && checkpoints.length === 0) return result;
    const newest = checkpoints.at(-1);
    const summary: CheckpointSummary = {
      total: checkpoints.length, signaturesChecked: deps.signer !== undefined,
      newest: newest
        ? { id: newest.id, lastEventId: newest.lastEventId, createdAt: newest.createdAt.toISOString() }
        : null,
      uncoveredEvents: Math.max(0, chain.count - (newest?.count ?? 0)), problems,
    };
    return { ...result, ok: result.ok && problems.length === 0, checkpoints: summary } as AuditTrailResult;
  };
}

export type AuditTrailVerifier = ReturnType<typeof createAuditTrailVerifier>;
