/**
 * The same conditions as the store's SQL, evaluated on records in memory, for small collections
 * whose fields are derived rather than stored (a job's status comes from its running session).
 */
import type { Condition, ListQuery, ListResult, Scalar } from './query.ts';

function like(value: string, pattern: string): boolean {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\' && i + 1 < pattern.length) re += pattern[++i]!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    else if (c === '%') re += '.*';
    else if (c === '_') re += '.';
    else re += c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, 'is').test(value);
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
