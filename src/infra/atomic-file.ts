import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, linkSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';

/**
 * Writes a whole file or nothing: a temporary sibling is written and fsynced, then renamed over
 * `file`, and the folder is fsynced so the rename survives a crash. Readers never see half a file.
 * `exclusive`: fail with EEXIST instead of replacing a file another process wrote first.
 */
export function writeFileAtomic(file: string, content: string, mode = 0o600, { exclusive = false } = {}): void {
  const temporary = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  const fd = openSync(temporary, 'wx', mode);
  try {
    writeSync(fd, content);
    fsyncSync(fd);
  } catch (error) {
    closeSync(fd);
    rmSync(temporary, { force: true });
    throw error;
  }
  closeSync(fd);
  if (exclusive) {
    try { linkSync(temporary, file); } finally { rmSync(temporary, { force: true }); }
  } else {
    renameSync(temporary, file);
  }
  const dir = openSync(path.dirname(file), 'r');
  try { fsyncSync(dir); } finally { closeSync(dir); }
}
