/**
 * Compiled PostgreSQL statements written out with their parameters as literals, for the one place
 * that needs several statements in one round trip: the end of a transaction that wrote events
 * (store/events.ts), where the events lock is taken, the rows inserted and the transaction
 * committed by the server without waiting for this process in between. PostgreSQL's simple query
 * protocol runs several statements from one string but takes no parameters, hence the literals.
 *
 * Strings are always written as E'…' with every backslash and quote doubled, which means the same
 * whatever standard_conforming_strings says. A NUL character cannot be in PostgreSQL text (a bound
 * parameter with one fails the same way), and in a query string it would cut the text short, so it
 * is refused here rather than sent.
 */
import type { CompiledQuery } from 'kysely';

export function literal(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`cannot write ${value} as an SQL literal`);
    return String(value);
  }
  if (typeof value === 'bigint') return String(value);
  if (typeof value === 'boolean') return value ? 'TRUE' : 'FALSE';
  if (typeof value === 'string') {
    if (value.includes('\0')) throw new Error('invalid byte sequence: text cannot contain a NUL character (0x00)');
    return `E'${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
  }
  throw new Error(`cannot write a ${typeof value} as an SQL literal`);
}

/**
 * The statement with each $n replaced by its parameter's literal. Kysely puts every value in a
 * parameter and writes identifiers in double quotes, so outside a quoted identifier a `$` and
 * digits are always a placeholder.
 */
export function inlineStatement(q: CompiledQuery): string {
  return q.sql.replace(/("(?:[^"]|"")*")|\$(\d+)/g, (whole, quoted: string | undefined, n: string) => {
    if (quoted) return whole;
    const i = Number(n) - 1;
    if (i < 0 || i >= q.parameters.length) throw new Error(`statement has no parameter $${n}`);
    return literal(q.parameters[i]);
  });
}
