/**
 * Compiled PostgreSQL statements written out with their parameters as literals, for the places
 * that need several statements in one round trip: a transaction's BEGIN sent with its first
 * statement (store/pg-client.ts), and the end of a transaction (Store.transaction): the writes it
 * kept for the end, its log entries and events, where the events lock is taken, the rows written
 * and the transaction committed by the server without waiting for this process in between
 * (store/events.ts). PostgreSQL's simple query protocol runs
 * several statements from one string but takes no parameters, hence the literals.
 *
 * A literal says what node-pg would have sent as the parameter: the value's text, as a string
 * constant, which PostgreSQL types from where it stands just as it types a parameter (so a number
 * compared with a text column still works). Strings are always written as E'…' with every
 * backslash and quote doubled, which means the same whatever standard_conforming_strings says. A
 * NUL character cannot be in PostgreSQL text (a bound parameter with one fails the same way), and
 * in a query string it would cut the text short, so it is refused here rather than sent. Values
 * node-pg would convert in its own way (dates, buffers, arrays, objects) are not written here.
 */
/** The literal of one parameter, or undefined when it is not a value written here. */
export function literalOf(value: unknown): string | undefined {
  if (value === null || value === undefined) return 'NULL';
  let text: string;
  if (typeof value === 'string') text = value;
  else if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') text = String(value);
  else return undefined;
  if (text.includes('\0')) throw new Error('invalid byte sequence: text cannot contain a NUL character (0x00)');
  return `E'${text.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

/**
 * The statement with each $n replaced by its parameter's literal, or undefined when a parameter
 * has none. Kysely puts every value in a parameter and writes identifiers in double quotes, so
 * outside a quoted identifier a `$` and digits are always a placeholder.
 */
export function tryInline(text: string, parameters: readonly unknown[]): string | undefined {
  const literals: string[] = [];
  for (const p of parameters) {
    const l = literalOf(p);
    if (l === undefined) return undefined;
    literals.push(l);
  }
  return text.replace(/("(?:[^"]|"")*")|\$(\d+)/g, (whole, quoted: string | undefined, n: string) => {
    if (quoted) return whole;
    const l = literals[Number(n) - 1];
    if (l === undefined) throw new Error(`statement has no parameter $${n}`);
    return l;
  });
}
