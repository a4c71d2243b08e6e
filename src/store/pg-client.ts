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
 * And it prepares the fixed queries (rows.ts) once per connection: named statements, which the
 * server parses, analyses and plans once and afterwards only binds and runs.
 *
 * Everything else goes to node-pg as it came. Measured on a 1,000-server session: two of about
 * twenty-five round trips a task's transactions made; preparing took a warm session's store CPU
 * from ~5.1 to ~3.5 s.
 */
import pg from 'pg';
import { tryInline } from './inline-sql.ts';

/** Put last in a statement string that commits its transaction (after its COMMIT). */
export const ENDS_TRANSACTION = '/* census: this string commits its transaction */';

type Result = pg.QueryResult;

/** The statements each connection prepares once and then only binds: text → name. */
const PREPARED = new Map<string, string>();

/**
 * Marks a statement text to be prepared on each connection the first time it runs there (named,
 * in the extended protocol) and afterwards only bound and executed: the server then parses,
 * analyses and plans it once per connection, not on every call (on a 1,000-server session that
 * was about a third of the store's CPU, joins above all). For the fixed queries (rows.ts).
 */
export function prepareOnEachConnection(text: string): void {
  if (!PREPARED.has(text)) PREPARED.set(text, `census_${PREPARED.size + 1}`);
}

/** "cached plan must not change result type": a table a prepared statement reads changed shape. */
const PLAN_CHANGED = '0A000';
const answered = (command: string): Result => ({ command, rowCount: null, oid: 0, fields: [], rows: [] });
const last = (r: Result | Result[]): Result => (Array.isArray(r) ? r[r.length - 1]! : r);

export class StoreClient extends pg.Client {
  /** Kysely said BEGIN and nothing was sent yet. */
  private beginPending = false;
  /** The transaction was committed by an ENDS_TRANSACTION string. */
  private ended = false;
  /** Part of this connection's statement names; moved on when a table changed shape under them. */
  private generation = 0;

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
    const name = params?.length ? PREPARED.get(statement) : undefined;
    const result = last(await (name === undefined ? send(statement, params) : this.prepared(name, statement, params!)));
    if (statement.endsWith(ENDS_TRANSACTION)) this.ended = true;
    return result;
  }

  private async prepared(name: string, text: string, values: unknown[]): Promise<Result> {
    const run = () => super.query({ name: `${name}_${this.generation}`, text, values }) as unknown as Promise<Result>;
    try {
      return await run();
    } catch (err) {
      // A newer Census migrated a table this connection prepared a statement on: prepare it again
      // under a new name (the old one stays unused). Inside a transaction the error stands, as any
      // other (the transaction is aborted); the next one prepares it again.
      if ((err as { code?: string }).code !== PLAN_CHANGED) throw err;
      this.generation += 1;
      if (this.getTransactionStatus() !== 'I') throw err;
      return run();
    }
  }
}
