/** Row ↔ record conversions shared by the repositories. */
import { CompiledQuery, PostgresAdapter, sql, type Compilable, type RawBuilder, type Insertable, type Kysely, type SelectQueryBuilder } from 'kysely';
import type { ListQuery, ListResult } from '../core/query.ts';
import { mayMoveJobs } from './db.ts';
import { prepareOnEachConnection } from './pg-client.ts';
import type { Dialect } from './migrations.ts';
import type { DB } from './schema.ts';
import { orderSql, whereAll } from './where.ts';

export const bool = (v: number | boolean | null | undefined): boolean => v === 1 || v === true;
export const bit = (v: boolean): number => (v ? 1 : 0);
export const json = <T>(text: string | null | undefined, fallback: T): T => {
  if (!text) return fallback;
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
};

/**
 * Runs one collection query: count of all matches, then one page in the asked order with the
 * table's id as the tie-breaker so pages never overlap.
 */
export async function listPage<T, R>(
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  base: SelectQueryBuilder<DB, any, any>,
  q: ListQuery,
  tieBreaker: string,
  map: (row: R) => T,
): Promise<ListResult<T>> {
  const filtered = q.where.length ? base.where(whereAll(q.where)) : base;
  const countRow = await filtered.clearSelect().select(sql<number>`count(*)`.as('n')).executeTakeFirst();
  let page = filtered.selectAll();
  for (const o of orderSql(q.order)) page = page.orderBy(o);
  page = page.orderBy(sql.ref(tieBreaker)).limit(q.limit).offset(q.offset);
  const rows = (await page.execute()) as R[];
  return { total: Number(countRow?.n ?? 0), items: rows.map(map) };
}

export type Db = Kysely<DB>;

/** The database kind behind `db`, for a query whose SQL differs by kind. */
export const dialectOf = (db: Db): Dialect => (db.getExecutor().adapter instanceof PostgresAdapter ? 'postgres' : 'sqlite');

/**
 * The elements of a JSON array of strings, as a subquery of each database kind: a list of any
 * length is one parameter, so a statement that takes one has one shape (fixedQuery).
 */
export function jsonList(db: Db, list: string): RawBuilder<string> {
  return dialectOf(db) === 'sqlite' ? sql<string>`(SELECT value FROM json_each(${list}))` : sql<string>`(SELECT json_array_elements_text(${list}::json))`;
}

/**
 * A query of a fixed shape, built and compiled once for each database kind and afterwards only
 * given new values: on a large session Kysely's building and the camel-case plugin's pass over
 * the hot queries were a tenth of a worker's CPU. `build` gets stand-ins for the arguments, and
 * each must reach the query as one parameter, as it is: no IN list of it, no JSON of it, no
 * arithmetic on it (compiling checks that each stand-in is one parameter). A write run through
 * it is not seen by the WriteCounter (store/db.ts), so only tables outside the 'jobs' scope
 * (compiling refuses any other).
 */
export function fixedQuery<A extends unknown[], R>(build: (db: Db, ...args: A) => Compilable<R>): (db: Db, ...args: A) => CompiledQuery<R> {
  const byKind = new Map<Dialect, { sql: string; slots: ({ arg: number } | { value: unknown })[] }>();
  return (db, ...args) => {
    // The kind says which SQL the database speaks ($1 or ?); the plugins are the same on every Kysely of the store.
    const kind = dialectOf(db);
    let fixed = byKind.get(kind);
    if (!fixed) {
      const stand = args.map((_, i) => `\u0000census fixed query argument ${i}\u0000`);
      const q = build(db, ...(stand as A)).compile();
      const slots = q.parameters.map((p) => (typeof p === 'string' && stand.includes(p) ? { arg: stand.indexOf(p) } : { value: p }));
      const used = slots.flatMap((s) => ('arg' in s ? [s.arg] : []));
      if (used.length !== args.length || new Set(used).size !== args.length) throw new Error(`a fixed query must use each of its ${args.length} arguments once as a parameter: ${q.sql}`);
      if (mayMoveJobs(q.query)) throw new Error(`a fixed query runs past the WriteCounter, so it may not write the jobs scope's tables: ${q.sql}`);
      if (kind === 'postgres') prepareOnEachConnection(q.sql);
      byKind.set(kind, (fixed = { sql: q.sql, slots }));
    }
    return CompiledQuery.raw(fixed.sql, fixed.slots.map((s) => ('arg' in s ? args[s.arg] : s.value))) as CompiledQuery<R>;
  };
}

/** Rows per multi-row INSERT of buffered writes (events, log entries): well under PostgreSQL's 65,535 parameters. */
const INSERT_SLICE = 200;

/**
 * The multi-row INSERTs of buffered writes into one table, `INSERT_SLICE` rows a statement, each
 * statement's text made once for each row count and database kind and afterwards only given new
 * values (as fixedQuery does for one row): building every batch with Kysely was a few per cent of
 * a warm inventory's CPU (bench/inventory's profile). `values` gives one row's values in
 * `columns`' order. Like fixedQuery, the statements bypass the WriteCounter: only for tables
 * outside the 'jobs' scope (it refuses any other).
 */
export function rowInserts<T extends keyof DB & string, R>(
  table: T,
  columns: readonly (keyof Insertable<DB[T]> & string)[],
  values: (row: R) => unknown[],
): (db: Db, rows: readonly R[]) => CompiledQuery[] {
  const texts = new Map<string, string>();
  return (db, rows) => {
    const out: CompiledQuery[] = [];
    for (let i = 0; i < rows.length; i += INSERT_SLICE) {
      const slice = rows.slice(i, i + INSERT_SLICE);
      const key = `${dialectOf(db)} ${slice.length}`;
      let text = texts.get(key);
      if (text === undefined) {
        const placeholder = Object.fromEntries(columns.map((c) => [c, null])) as Insertable<DB[T]>;
        // Kysely numbers the parameters row by row, each row's in the columns' order: as `values` gives them.
        const q = db.insertInto(table).values(slice.map(() => placeholder) as never).compile();
        if (mayMoveJobs(q.query)) throw new Error(`rowInserts runs past the WriteCounter, so it may not write the jobs scope's tables: ${table}`);
        text = q.sql;
        texts.set(key, text);
      }
      // A value left undefined goes as NULL: better-sqlite3 would refuse to bind it.
      out.push(CompiledQuery.raw(text, slice.flatMap((row) => values(row).map((v) => v ?? null))));
    }
    return out;
  };
}

/**
 * A list of every field of T, for a select list that must read them all: it fails to compile when
 * T gains a field the list lacks (the error names it).
 */
export const everyField = <T>() => <const C extends readonly (keyof T & string)[]>(
  fields: C & ([Exclude<keyof T, C[number]>] extends [never] ? unknown : { missing: Exclude<keyof T, C[number]> }),
): C => fields;

/**
 * Reading rows of two tables joined in one query when their columns share names (id, name,
 * status …): the joined table's columns are selected under a prefix (`jobSessions.jobId as
 * jsJobId`; the names survive the camel-case plugin) and split back out of each row.
 */
export function joinedColumns<C extends string>(table: string, prefix: string, columns: readonly C[]) {
  const alias = (c: string) => `${prefix}${c[0]!.toUpperCase()}${c.slice(1)}`;
  const fields = new Map(columns.map((c) => [alias(c), c]));
  return {
    /** The select list (for a query builder's select(); its aliases are not in the table types). */
    select: columns.map((c) => `${table}.${c} as ${alias(c)}`),
    /** A row's own columns, and the joined table's under their own names. */
    split(row: Record<string, unknown>): [Record<string, unknown>, Record<C, unknown>] {
      const own: Record<string, unknown> = {};
      const joined = {} as Record<C, unknown>;
      for (const k in row) {
        const field = fields.get(k);
        if (field) joined[field] = row[k];
        else own[k] = row[k];
      }
      return [own, joined];
    },
  };
}

/**
 * The application servers a reader may see (core/permissions.ts's Scope): 'all', or these ids.
 * Reads that take one leave out rows of other servers.
 */
export type ServerScope = 'all' | ReadonlySet<number>;

/** Rows whose `column` is one of the scope's servers (none for an empty scope). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function inScope<Q extends SelectQueryBuilder<DB, any, any>>(q: Q, column: string, scope: ServerScope): Q {
  if (scope === 'all') return q;
  if (!scope.size) return q.where(sql<boolean>`1 = 0`) as Q;
  return q.where(sql.ref(column), 'in', [...scope]) as Q;
}
