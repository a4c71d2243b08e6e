/** Row ↔ record conversions shared by the repositories. */
import { sql, type Kysely, type SelectQueryBuilder } from 'kysely';
import type { ListQuery, ListResult } from '../core/query.ts';
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

/** Rows per multi-row INSERT of buffered writes (events, log entries): well under PostgreSQL's 65,535 parameters. */
export const INSERT_SLICE = 200;

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
