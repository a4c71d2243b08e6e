/**
 * SPP's collection query model: `filter` and `sort` as JSON in the query string, `pageSize` and
 * `pageStartIndex` for paging. Parsing is strict about syntax (malformed JSON is a 400) and loose
 * about values (numbers may come as strings, booleans as "true"), as SPP's clients need
 * (spec §1.6–1.8). The result is a list of typed conditions on named columns that the store
 * turns into SQL; nothing here knows SQL.
 */
import { invalid } from './errors.ts';

export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 100_000;

export type Operator = '=' | '<>' | '<' | '>' | '<=' | '>=' | 'IN' | 'NOT IN' | 'EXISTS' | 'NOT EXISTS';
const OPERATORS: Record<string, Operator> = {
  '=': '=', '==': '=', '<>': '<>', '!=': '<>', '<': '<', '>': '>', '<=': '<=', '>=': '>=',
  IN: 'IN', 'NOT IN': 'NOT IN', EXISTS: 'EXISTS', 'NOT EXISTS': 'NOT EXISTS',
};

export interface Criterion {
  property: string;
  op: Operator;
  value: unknown;
}

export interface SortKey {
  property: string;
  direction: 'ASC' | 'DESC';
}

export interface Paging {
  pageSize: number;
  pageStartIndex: number;
}

function parseJsonParam(name: string, raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    throw invalid(`The ${name} parameter is not valid JSON: ${truncate(raw)}`);
  }
}

const truncate = (s: string) => (s.length > 200 ? `${s.slice(0, 200)}…` : s);

/**
 * A client's JSON value as text: objects and arrays as their JSON. `String()` would call a
 * `toString` the client wrote into the object, and throw when it is not a function
 * (`{"toString": 1}`), a 500 where the answer is a 400 or "no match".
 */
export const asText = (v: unknown): string => (v !== null && typeof v === 'object' ? JSON.stringify(v) : String(v));

/** A client's JSON value as a number: NaN for objects and arrays (see asText). */
export const asNumber = (v: unknown): number => (v !== null && typeof v === 'object' ? NaN : Number(v));

const asList = (v: unknown): unknown[] => (Array.isArray(v) ? v : v && typeof v === 'object' ? [v] : []);

export function parseFilter(raw: string | undefined): Criterion[] {
  if (raw === undefined || raw.trim() === '') return [];
  const parsed = parseJsonParam('filter', raw);
  if (!Array.isArray(parsed) && (parsed === null || typeof parsed !== 'object')) {
    throw invalid('The filter parameter must be a JSON array of {property, value, op} objects.');
  }
  return asList(parsed).map((item, i) => {
    if (!item || typeof item !== 'object') throw invalid(`filter[${i}] is not an object.`);
    const { property, op, value } = item as Record<string, unknown>;
    if (typeof property !== 'string' || property === '') throw invalid(`filter[${i}] has no property name.`);
    const opKey = op === undefined || op === null ? '=' : asText(op).trim().toUpperCase().replace(/\s+/g, ' ');
    const operator = OPERATORS[opKey];
    if (!operator) throw invalid(`filter[${i}] has an unknown operator ${JSON.stringify(op)}.`);
    return { property, op: operator, value };
  });
}

export function parseSort(raw: string | undefined): SortKey[] {
  if (raw === undefined || raw.trim() === '') return [];
  const parsed = parseJsonParam('sort', raw);
  return asList(parsed).map((item, i) => {
    if (!item || typeof item !== 'object') throw invalid(`sort[${i}] is not an object.`);
    const { property, direction } = item as Record<string, unknown>;
    if (typeof property !== 'string' || property === '') throw invalid(`sort[${i}] has no property name.`);
    const dir = direction === undefined || direction === null ? 'ASC' : asText(direction).toUpperCase();
    if (dir !== 'ASC' && dir !== 'DESC') throw invalid(`sort[${i}] has direction ${JSON.stringify(direction)}; use ASC or DESC.`);
    return { property, direction: dir };
  });
}

function parseIntParam(name: string, raw: string | undefined, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (raw === undefined || raw === '') return fallback;
  if (!/^\s*\d+\s*$/.test(raw)) throw invalid(`${name} must be a whole number, not ${JSON.stringify(truncate(raw))}.`);
  const n = Number(raw);
  if (n < min) throw invalid(`${name} must be at least ${min}.`);
  // Beyond this the number is not exact, and the databases reject it as an OFFSET (a 500 otherwise).
  if (n > max) throw invalid(`${name} must be at most ${max}.`);
  return n;
}

export function parsePaging(pageSize: string | undefined, pageStartIndex: string | undefined): Paging {
  return {
    pageSize: Math.min(parseIntParam('pageSize', pageSize, DEFAULT_PAGE_SIZE, 1, Infinity), MAX_PAGE_SIZE),
    pageStartIndex: parseIntParam('pageStartIndex', pageStartIndex, 0, 0),
  };
}

/** 1-based page number; a start index between pages counts as the page it falls in (docs/compat.md). */
export const pageNumber = (p: Paging): number => Math.floor(p.pageStartIndex / p.pageSize) + 1;

// ---- From wire criteria to typed conditions -------------------------------------------------

export type FieldType = 'string' | 'number' | 'boolean';
export interface FieldSpec {
  column: string;
  type: FieldType;
  /**
   * Numbers are stored as whole numbers; this is the largest one the column holds (default: the
   * largest exact JS integer, for BIGINT columns; INT32_MAX for INTEGER columns on PostgreSQL).
   */
  max?: number;
}

export const INT32_MAX = 2_147_483_647;
/** Wire property name → stored column; properties not listed are ignored, as SPP ignores them. */
export type FieldMap = Record<string, FieldSpec>;

export type Scalar = string | number | boolean;
export type Condition =
  | { column: string; kind: 'cmp'; op: '=' | '<>' | '<' | '>' | '<=' | '>='; value: Scalar }
  | { column: string; kind: 'in' | 'notIn'; values: Scalar[] }
  | { column: string; kind: 'like' | 'notLike'; pattern: string }
  | { column: string; kind: 'null' | 'notNull' }
  | { kind: 'none' };

/** Loose typing: "12" matches 12, "true" matches true. A value that cannot be the column's type matches nothing. */
export function coerce(value: unknown, type: FieldType): Scalar | undefined {
  if (value === null || value === undefined) return undefined;
  switch (type) {
    case 'number': {
      if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
      if (typeof value === 'boolean' || typeof value === 'object') return undefined;
      const s = String(value).trim();
      if (s === '' ) return undefined;
      const n = Number(s);
      return Number.isFinite(n) ? n : undefined;
    }
    case 'boolean': {
      if (typeof value === 'boolean') return value;
      if (typeof value === 'object') return undefined;
      const s = String(value).trim().toLowerCase();
      if (s === 'true' || s === '1') return true;
      if (s === 'false' || s === '0') return false;
      return undefined;
    }
    default:
      return asText(value);
  }
}

/** `*` is SPP's wildcard; turn it into a LIKE pattern (with `\` escaping `%`, `_` and `\`). */
export function wildcardPattern(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`).replace(/\*/g, '%');
}

export function toConditions(criteria: Criterion[], fields: FieldMap): Condition[] {
  const out: Condition[] = [];
  for (const c of criteria) {
    // Own properties only: "constructor" or "__proto__" are not fields, just unknown properties.
    const spec = Object.hasOwn(fields, c.property) ? fields[c.property] : undefined;
    if (!spec) continue;
    out.push(toCondition(c, spec));
  }
  return out;
}

/**
 * A comparison of a whole-number column with any number, rewritten so the database only ever
 * sees whole numbers it can hold: PostgreSQL rejects `int_column = 1.5` or a value beyond the
 * column's range with an error, where the answer is simply "no row" or "every row".
 */
function numberCondition(column: string, op: '=' | '<>' | '<' | '>' | '<=' | '>=', x: number, max: number): Condition {
  const all: Condition = { column, kind: 'notNull' };
  const none: Condition = { kind: 'none' };
  if (op === '=' || op === '<>') {
    if (Number.isInteger(x) && Math.abs(x) <= max) return { column, kind: 'cmp', op, value: x };
    return op === '=' ? none : all;
  }
  // For whole v: v < x ⇔ v < ceil(x); v <= x ⇔ v <= floor(x); v > x ⇔ v > floor(x); v >= x ⇔ v >= ceil(x).
  const bound = op === '<' || op === '>=' ? Math.ceil(x) : Math.floor(x);
  const below = op === '<' || op === '<=';
  if (bound > max) return below ? all : none;
  if (bound < -max) return below ? none : all;
  return { column, kind: 'cmp', op, value: bound };
}

function toCondition(c: Criterion, spec: FieldSpec): Condition {
  const { column, type } = spec;
  switch (c.op) {
    case 'EXISTS':
      return { column, kind: 'notNull' };
    case 'NOT EXISTS':
      return { column, kind: 'null' };
    case 'IN':
    case 'NOT IN': {
      const values = asValues(c.value)
        .map((v) => coerce(v, type))
        .filter((v): v is Scalar => v !== undefined)
        .filter((v) => typeof v !== 'number' || (Number.isInteger(v) && Math.abs(v) <= (spec.max ?? Number.MAX_SAFE_INTEGER)));
      if (c.op === 'IN' && values.length === 0) return { kind: 'none' };
      return { column, kind: c.op === 'IN' ? 'in' : 'notIn', values };
    }
    default: {
      // `=` with a list behaves as IN: some clients send arrays with the default operator.
      if (Array.isArray(c.value)) return toCondition({ ...c, op: c.op === '<>' ? 'NOT IN' : 'IN' }, spec);
      if (c.value === null && (c.op === '=' || c.op === '<>')) return { column, kind: c.op === '=' ? 'null' : 'notNull' };
      if (type === 'string' && typeof c.value === 'string' && c.value.includes('*') && (c.op === '=' || c.op === '<>')) {
        return { column, kind: c.op === '=' ? 'like' : 'notLike', pattern: wildcardPattern(c.value) };
      }
      const value = coerce(c.value, type);
      if (value === undefined) return c.op === '<>' ? { column, kind: 'notNull' } : { kind: 'none' };
      if (typeof value === 'number') return numberCondition(column, c.op, value, spec.max ?? Number.MAX_SAFE_INTEGER);
      return { column, kind: 'cmp', op: c.op, value };
    }
  }
}

const asValues = (v: unknown): unknown[] => (Array.isArray(v) ? v : [v]);

export interface OrderKey {
  column: string;
  direction: 'asc' | 'desc';
}

export function toOrder(sort: SortKey[], fields: FieldMap): OrderKey[] {
  const out: OrderKey[] = [];
  for (const s of sort) {
    const spec = Object.hasOwn(fields, s.property) ? fields[s.property] : undefined;
    if (spec) out.push({ column: spec.column, direction: s.direction === 'DESC' ? 'desc' : 'asc' });
  }
  return out;
}

/** What a repository needs to list a collection. */
export interface ListQuery {
  where: Condition[];
  order: OrderKey[];
  limit: number;
  offset: number;
}

export interface ListResult<T> {
  total: number;
  items: T[];
}
