/**
 * The pg client of the store's pool (store/db.ts). It saves two round trips of every
 * transaction, which on a busy process are also two waits for the event loop to read an answer:
 *
 * - Kysely's BEGIN is not sent on its own: it goes in one string with the transaction's first
 *   statement (written with literals, store/inline-sql.ts). A transaction that runs nothing sends
 *   nothing at all, and its COMMIT or ROLLBACK is answered here.
 * - A string that ends with ENDS_TRANSACTION commits the transaction itself (Store.transaction's
 *   last statements, store/events.ts); the COMMIT Kysely sends after it is answered here.
 *
 * Everything else goes to node-pg as it came. Measured on a 1,000-server session: two of about
 * twenty-five round trips a task's transactions made.
 */
import pg from 'pg';
import { tryInline } from './inline-sql.ts';

/** Put last in a statement string that commits its transaction (after its COMMIT). */
export const ENDS_TRANSACTION = '/* census: this string commits its transaction */';

type Result = pg.QueryResult;
const answered = (command: string): Result => ({ command, rowCount: null, oid: 0, fields: [], rows: [] });
const last = (r: Result | Result[]): Result => (Array.isArray(r) ? r[r.length - 1]! : r);

export class StoreClient extends pg.Client {
  /** Kysely said BEGIN and nothing was sent yet. */
  private beginPending = false;
  /** The transaction was committed by an ENDS_TRANSACTION string. */
  private ended = false;

  // node-pg's query() has many overloads; Kysely calls query(text, values) and uses the promise.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  override query(...args: any[]): any {
    const [text, values] = args as [unknown, unknown];
    if (args.length > 2 || typeof text !== 'string' || (values !== undefined && !Array.isArray(values))) {
      return (super.query as (...a: unknown[]) => unknown)(...args);
    }
    return this.run(text, (values ?? []) as unknown[]);
  }

  private async run(text: string, values: unknown[]): Promise<Result> {
    const send = (t: string, v?: unknown[]) => super.query(t, v) as unknown as Promise<Result | Result[]>;
    if (text === 'begin') {
      this.beginPending = true;
      this.ended = false;
      return answered('BEGIN');
    }
    if ((text === 'commit' || text === 'rollback') && (this.beginPending || this.ended)) {
      // Nothing was sent since BEGIN (nothing to end), or the transaction ended already.
      this.beginPending = false;
      this.ended = false;
      return answered(text.toUpperCase());
    }
    let statement = text;
    let params: unknown[] | undefined = values;
    if (this.beginPending) {
      this.beginPending = false;
      const inlined = values.length ? tryInline(text, values) : text;
      if (inlined === undefined) {
        await send('BEGIN');
      } else {
        statement = `BEGIN;\n${inlined}`;
        params = undefined;
      }
    }
    const result = last(await send(statement, params));
    if (statement.endsWith(ENDS_TRANSACTION)) this.ended = true;
    return result;
  }
}
