/**
 * The same conditions as the store's SQL, evaluated on records in memory, for small collections
 * whose fields are derived rather than stored (a job's status comes from its running session).
 */
import type { Condition, ListQuery, ListResult, Scalar } from './query.ts';

const ANY = Symbol('%');
const ONE = Symbol('_');

/**
 * SQL LIKE (`%` any run, `_` one character, `\\` escapes the next), case-insensitive. Matched
 * by walking both strings and going back only to the last `%`, never with a regular expression:
 * one of `^.*.*.*…x$` backtracks exponentially, and a filter of ten `*` held the event loop for
 * seconds (found by test/security/fuzz.test.ts).
 */
function like(value: string, pattern: string): boolean {
  const tokens: (string | symbol)[] = [];
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\' && i + 1 < pattern.length) tokens.push(pattern[++i]!);
    else if (c === '%') {
      if (tokens[tokens.length - 1] !== ANY) tokens.push(ANY);
    } else tokens.push(c === '_' ? ONE : c);
  }
  const fits = (t: string | symbol | undefined, c: string) => t === ONE || (typeof t === 'string' && (t === c || t.toUpperCase() === c.toUpperCase()));
  let v = 0;
  let t = 0;
  let lastAny = -1;
  let resumeAt = 0;
  while (v < value.length) {
    if (tokens[t] === ANY) {
      lastAny = t++;
      resumeAt = v;
    } else if (fits(tokens[t], value[v]!)) {
      t++;
      v++;
    } else if (lastAny >= 0) {
      // Let the last % take one more character, and try the rest of the pattern from there.
      t = lastAny + 1;
      v = ++resumeAt;
    } else return false;
  }
  while (tokens[t] === ANY) t++;
  return t === tokens.length;
}

const same = (a: unknown, b: Scalar) => (typeof b === 'number' ? Number(a) === b : typeof b === 'boolean' ? Boolean(a) === b : String(a) === b);

function holds(row: Record<string, unknown>, c: Condition): boolean {
  if (c.kind === 'none') return false;
  const v = row[c.column];
  switch (c.kind) {
    case 'null':
      return v === null || v === undefined;
    case 'notNull':
      return v !== null && v !== undefined;
    case 'in':
      return v !== null && v !== undefined && c.values.some((x) => same(v, x));
    case 'notIn':
      return v === null || v === undefined || !c.values.some((x) => same(v, x));
    case 'like':
      return typeof v === 'string' && like(v, c.pattern);
    case 'notLike':
      return typeof v !== 'string' || !like(v, c.pattern);
    case 'cmp': {
      if (v === null || v === undefined) return false;
      const a = typeof c.value === 'number' ? Number(v) : typeof c.value === 'boolean' ? (Boolean(v) ? 1 : 0) : String(v);
      const b = typeof c.value === 'boolean' ? (c.value ? 1 : 0) : c.value;
      switch (c.op) {
        case '=': return a === b;
        case '<>': return a !== b;
        case '<': return a < b;
        case '>': return a > b;
        case '<=': return a <= b;
        case '>=': return a >= b;
      }
    }
  }
}

function compare(a: unknown, b: unknown): number {
  if (a === b) return 0;
  if (a === null || a === undefined) return -1;
  if (b === null || b === undefined) return 1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a).localeCompare(String(b));
}

export function listInMemory<T extends Record<string, unknown>>(rows: T[], q: ListQuery): ListResult<T> {
  const hits = rows.filter((r) => q.where.every((c) => holds(r, c)));
  if (q.order.length) {
    hits.sort((x, y) => {
      for (const o of q.order) {
        const d = compare(x[o.column], y[o.column]);
        if (d) return o.direction === 'desc' ? -d : d;
      }
      return 0;
    });
  }
  return { total: hits.length, items: hits.slice(q.offset, q.offset + q.limit) };
}
