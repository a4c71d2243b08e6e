/** Turns core's typed list conditions into SQL on either dialect. */
import { sql, type Expression, type ExpressionBuilder, type SqlBool } from 'kysely';
import type { Condition, OrderKey } from '../core/query.ts';

const toDb = (v: string | number | boolean) => (typeof v === 'boolean' ? (v ? 1 : 0) : v);

// Kysely's typed builder cannot know our runtime column names; the FieldMaps are the whitelist.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyEB = ExpressionBuilder<any, any>;

export function conditionSql(eb: AnyEB, c: Condition): Expression<SqlBool> {
  if (c.kind === 'none') return sql<SqlBool>`1 = 0`;
  const col = sql.ref(c.column);
  switch (c.kind) {
    case 'cmp':
      return sql<SqlBool>`${col} ${sql.raw(c.op)} ${toDb(c.value)}`;
    case 'in':
      return c.values.length ? eb(col, 'in', c.values.map(toDb)) : sql<SqlBool>`1 = 0`;
    case 'notIn':
      return c.values.length ? sql<SqlBool>`(${col} IS NULL OR ${col} NOT IN (${sql.join(c.values.map(toDb))}))` : sql<SqlBool>`1 = 1`;
    case 'like':
      return sql<SqlBool>`lower(${col}) LIKE ${c.pattern.toLowerCase()} ESCAPE '\\'`;
    case 'notLike':
      return sql<SqlBool>`(${col} IS NULL OR lower(${col}) NOT LIKE ${c.pattern.toLowerCase()} ESCAPE '\\')`;
    case 'null':
      return sql<SqlBool>`${col} IS NULL`;
    case 'notNull':
      return sql<SqlBool>`${col} IS NOT NULL`;
  }
}

export const whereAll = (conditions: Condition[]) => (eb: AnyEB) => eb.and(conditions.map((c) => conditionSql(eb, c)));

export const orderSql = (order: OrderKey[]) =>
  order.map((o) => sql`${sql.ref(o.column)} ${sql.raw(o.direction)}`);
