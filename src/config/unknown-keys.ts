import type { z } from 'zod';

type Tree = Record<string, unknown>;
interface Def {
  type: string;
  shape?: Record<string, z.ZodType>;
  innerType?: z.ZodType;
  in?: z.ZodType;
  element?: z.ZodType;
}

const defOf = (schema: z.ZodType) => (schema as unknown as { _zod: { def: Def } })._zod.def;

/** The object schema under optional/default/nullable/pipe wrappers, or undefined for anything else. */
function objectShape(schema: z.ZodType): Record<string, z.ZodType> | undefined {
  const def = defOf(schema);
  if (def.type === 'object') return def.shape;
  const inner = def.innerType ?? def.in;
  return inner ? objectShape(inner) : undefined;
}

function arrayElement(schema: z.ZodType): z.ZodType | undefined {
  const def = defOf(schema);
  if (def.type === 'array') return def.element;
  const inner = def.innerType ?? def.in;
  return inner ? arrayElement(inner) : undefined;
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j]!;
      const substitution = a[i - 1]!.toLowerCase() === b[j - 1]!.toLowerCase() ? 0 : 1;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previous + substitution);
      previous = current;
    }
  }
  return row[b.length]!;
}

function suggestion(key: string, known: string[]): string {
  const close = known.map((name) => ({ name, d: distance(key, name) }))
    .filter(({ d }) => d <= 2).sort((x, y) => x.d - y.d)[0];
  return close ? ` (did you mean "${close.name}"?)` : '';
}

/**
 * Every key in `tree` the schema does not define, as "path: unknown setting", so a typo such as
 * `registraton:` stops start-up instead of being dropped silently by zod's default stripping.
 */
export function unknownKeys(schema: z.ZodType, tree: unknown, at: string[] = []): string[] {
  if (Array.isArray(tree)) {
    const element = arrayElement(schema);
    return element ? tree.flatMap((item, index) => unknownKeys(element, item, [...at, String(index)])) : [];
  }
  const shape = objectShape(schema);
  if (!shape || typeof tree !== 'object' || tree === null) return [];
  return Object.entries(tree as Tree).flatMap(([key, value]) => {
    const child = shape[key];
    if (!child) return [`${[...at, key].join('.')}: unknown setting${suggestion(key, Object.keys(shape))}`];
    return unknownKeys(child, value, [...at, key]);
  });
}
