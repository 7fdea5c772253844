import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

// Keeps SECURITY.md's ASVS tables honest: every L1/L2 id of V6–V10 appears once, and every test
// a row names as evidence still exists under that exact name, so renaming or deleting the test
// that proves a "met" row fails the suite.

const root = join(import.meta.dirname, '..', '..');

/** The ASVS 5.0.0 ids of V6–V10 at levels 1 and 2 (facts, not the requirement texts). */
const asvsIds: Record<string, string[]> = {
  V6: [
    '6.1.1', '6.1.2', '6.1.3',
    '6.2.1', '6.2.2', '6.2.3', '6.2.4', '6.2.5', '6.2.6', '6.2.7', '6.2.8', '6.2.9', '6.2.10', '6.2.11', '6.2.12',
    '6.3.1', '6.3.2', '6.3.3', '6.3.4',
    '6.4.1', '6.4.2', '6.4.3', '6.4.4',
    '6.5.1', '6.5.2', '6.5.3', '6.5.4', '6.5.5',
    '6.6.1', '6.6.2', '6.6.3',
    '6.8.1', '6.8.2', '6.8.3', '6.8.4',
  ],
  V7: [
    '7.1.1', '7.1.2', '7.1.3',
    '7.2.1', '7.2.2', '7.2.3', '7.2.4',
    '7.3.1', '7.3.2',
    '7.4.1', '7.4.2', '7.4.3', '7.4.4', '7.4.5',
    '7.5.1', '7.5.2',
    '7.6.1', '7.6.2',
  ],
  V8: ['8.1.1', '8.1.2', '8.2.1', '8.2.2', '8.2.3', '8.3.1', '8.4.1'],
  V9: ['9.1.1', '9.1.2', '9.1.3', '9.2.1', '9.2.2', '9.2.3', '9.2.4'],
  V10: [
    '10.1.1', '10.1.2',
    '10.2.1', '10.2.2',
    '10.3.1', '10.3.2', '10.3.3', '10.3.4',
    '10.4.1', '10.4.2', '10.4.3', '10.4.4', '10.4.5', '10.4.6', '10.4.7', '10.4.8', '10.4.9', '10.4.10', '10.4.11',
    '10.5.1', '10.5.2', '10.5.3', '10.5.4', '10.5.5',
    '10.6.1', '10.6.2',
    '10.7.1', '10.7.2', '10.7.3',
  ],
};

const statuses = ['met', 'not applicable', 'open'] as const;
type Status = (typeof statuses)[number];

interface Row { chapter: string; id: string; paraphrase: string; status: string; evidence: string; line: number }
interface TestRef { file: string; name: string }

/** The rows of every ASVS table, each with the chapter heading (`### V6 …`) it sits under. */
function asvsRows(markdown: string): Row[] {
  const lines = markdown.split('\n');
  const start = lines.findIndex((line) => line.startsWith('## ASVS 5.0 Level 2'));
  if (start < 0) throw new Error('SECURITY.md has no "## ASVS 5.0 Level 2" section');
  const rows: Row[] = [];
  let chapter = '';
  for (let index = start + 1; index < lines.length; index++) {
    const line = lines[index]!;
    if (/^## /.test(line)) break;
    const heading = /^### (V\d+)\b/.exec(line);
    if (heading) chapter = heading[1]!;
    const cells = /^\|(.*)\|\s*$/.exec(line)?.[1]!.split('|').map((cell) => cell.trim());
    if (!cells || !/^\d+\.\d+\.\d+$/.test(cells[0]!)) continue;
    if (cells.length !== 4) throw new Error(`SECURITY.md line ${index + 1}: ${cells.length} cells, not 4`);
    const [id, paraphrase, status, evidence] = cells as [string, string, string, string];
    rows.push({ chapter, id, paraphrase, status, evidence, line: index + 1 });
  }
  return rows;
}

/** The `test/… › "it name"` references of an evidence cell; a name ends at `"` before `;` or the end. */
function testRefs(evidence: string): TestRef[] {
  const ref = /(test\/\S+?\.test\.ts) › "(.+?)"(?=\s*(?:;|\)|$))/g;
  return [...evidence.matchAll(ref)].map((m) => ({ file: m[1]!, name: m[2]! }));
}

const namesByFile = new Map<string, Set<string>>();

/** The literal names of a test file's `it(…)`/`test(…)` calls, unescaped. */
function testNames(file: string): Set<string> {
  let names = namesByFile.get(file);
  if (!names) {
    const source = readFileSync(join(root, file), 'utf8');
    const call = /\b(?:it|test)(?:\.(?:only|concurrent|sequential|fails))*\(\s*(['"`])((?:\\.|(?!\1)[^\\])*)\1/g;
    names = new Set([...source.matchAll(call)].map((m) => m[2]!.replace(/\\(.)/g, '$1')));
    namesByFile.set(file, names);
  }
  return names;
}

const rows = asvsRows(readFileSync(join(root, 'SECURITY.md'), 'utf8'));

describe('SECURITY.md ASVS 5.0 Level 2 tables', () => {
  it('lists every L1 and L2 id of V6–V10 exactly once, in its chapter, and nothing else', () => {
    const expected = Object.values(asvsIds).flat();
    expect(expected).toHaveLength(96);
    const seen = rows.map((row) => row.id);
    expect([...seen].sort(), 'ids in SECURITY.md').toEqual([...expected].sort());
    expect(seen.filter((id, index) => seen.indexOf(id) !== index), 'duplicated ids').toEqual([]);
    for (const row of rows) {
      expect(asvsIds[row.chapter], `${row.id} (line ${row.line}) under ${row.chapter}`).toContain(row.id);
    }
  });

  it('gives each row a short paraphrase, a known status and evidence', () => {
    for (const row of rows) {
      const where = `${row.id} (line ${row.line})`;
      const words = row.paraphrase.split(/\s+/).filter(Boolean).length;
      expect(words, `${where}: paraphrase of 1-15 words`).toBeGreaterThan(0);
      expect(words, `${where}: paraphrase of 1-15 words`).toBeLessThanOrEqual(15);
      expect(statuses, `${where}: status`).toContain(row.status as Status);
      expect(row.evidence.length, `${where}: evidence or the reason why`).toBeGreaterThan(10);
    }
  });

  it('names at least one test for every met row', () => {
    const unproven = rows.filter((row) => row.status === 'met' && testRefs(row.evidence).length === 0);
    expect(unproven.map((row) => row.id), 'met rows without a test').toEqual([]);
  });

  it('names only test files that exist and `it` names they contain', () => {
    const refs = rows.flatMap((row) => testRefs(row.evidence).map((ref) => ({ ...ref, id: row.id })));
    expect(refs.length).toBeGreaterThan(0);
    const missing = refs.filter((ref) => !existsSync(join(root, ref.file)) || !testNames(ref.file).has(ref.name));
    expect(missing.map((ref) => `${ref.id}: ${ref.file} › "${ref.name}"`), 'missing tests').toEqual([]);
  });

  it('finds a reference that is not there, so a renamed test fails the check', () => {
    const names = testNames('test/unit/password-policy.test.ts');
    expect(names.has('has no composition rules: a long all-lowercase passphrase passes')).toBe(true);
    expect(names.has('has no composition rules')).toBe(false);
    expect(testRefs('x; test/a/b.test.ts › "say "hi" twice"; test/c.test.ts › "two"')).toEqual([
      { file: 'test/a/b.test.ts', name: 'say "hi" twice' },
      { file: 'test/c.test.ts', name: 'two' },
    ]);
  });
});
