import { eventContent, hashEvent, type AuditEvent } from './audit-chain.js';
import type { AuditCheckpoint } from './audit-checkpoint-repository.js';
import { payloadMatches } from './audit-checkpoint-service.js';
import type { CheckpointSigner } from './checkpoint-signer.js';

/** The outcome of checking an `audit export --since-checkpoint` copy, wherever it is kept. */
export type ExportVerifyResult =
  | { ok: true; checkpointId: string; checkpointCount: number; events: number; lastEventId: string; lastHash: string }
  | { ok: false; line: number; reason: string };

type ExportedEvent = Omit<AuditEvent, 'occurredAt'> & { occurredAt: string };

/**
 * Checks an export offline: its first line's checkpoint is signed by the key, and every event
 * after it continues the chain from the checkpoint's hash (links, hashes, ascending ids).
 */
export async function verifyExport(lines: string[], signer: CheckpointSigner): Promise<ExportVerifyResult> {
  const rows = lines.map((line) => line.trim()).filter(Boolean);
  const fail = (line: number, reason: string): ExportVerifyResult => ({ ok: false, line, reason });
  let checkpoint: AuditCheckpoint;
  try {
    const parsed = JSON.parse(rows[0] ?? 'null') as { checkpoint?: AuditCheckpoint & { createdAt: string } } | null;
    if (!parsed?.checkpoint) return fail(1, 'the first line is not a checkpoint');
    checkpoint = { ...parsed.checkpoint, createdAt: new Date(parsed.checkpoint.createdAt) };
  } catch {
    return fail(1, 'the first line is not JSON');
  }
  const payload = await signer.verify(checkpoint.jws).catch(() => undefined);
  if (!payload) return fail(1, 'the checkpoint is not signed by the configured key');
  if (!payloadMatches(checkpoint, payload)) return fail(1, 'the checkpoint line differs from what was signed');

  let lastId = BigInt(payload.lastEventId);
  let lastHash = payload.lastHash;
  for (let index = 1; index < rows.length; index += 1) {
    let event: ExportedEvent;
    try {
      event = JSON.parse(rows[index]!) as ExportedEvent;
    } catch {
      return fail(index + 1, 'not JSON');
    }
    const line = index + 1;
    if (!/^\d+$/.test(String(event.id)) || BigInt(event.id) <= lastId) {
      return fail(line, `event ${event.id} is out of order`);
    }
    if (event.prevHash !== lastHash) {
      return fail(line, `event ${event.id} does not follow the one before it (prev_hash_mismatch)`);
    }
    if (hashEvent(event.prevHash, eventContent({ ...event, occurredAt: new Date(event.occurredAt) })) !== event.hash) {
      return fail(index + 1, `event ${event.id} was changed (hash_mismatch)`);
    }
    lastId = BigInt(event.id);
    lastHash = event.hash;
  }
  return {
    ok: true, checkpointId: checkpoint.id, checkpointCount: payload.count, events: rows.length - 1,
    lastEventId: lastId.toString(), lastHash,
  };
}
