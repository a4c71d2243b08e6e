/**
 * The store's pg client (src/store/pg-client.ts) sends a transaction's BEGIN with its first
 * statement and lets a string commit the transaction: seen from the server, a transaction opens
 * only when its first statement arrives, ends with the string that commits it, and rolls back as
 * a whole whichever way its first statement was sent. The statements marked to be prepared are
 * prepared once on the connection, and prepared again when their table changed shape.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENDS_TRANSACTION, prepareOnEachConnection, StoreClient } from '../src/store/pg-client.ts';
import { PG_URL } from './support/stores.ts';

const table = `census_pgclient_${process.pid}`;
let client: StoreClient;
let watcher: pg.Client;

/** What the server says the client's backend is doing. */
async function state(): Promise<string> {
  const pid = (client as unknown as { processID: number }).processID;
  const { rows } = await watcher.query<{ state: string }>('SELECT state FROM pg_stat_activity WHERE pid = $1', [pid]);
  return rows[0]!.state;
}
const values = async () => (await watcher.query<{ v: string }>(`SELECT v FROM ${table} ORDER BY v`)).rows.map((r) => r.v);

beforeAll(async () => {
  client = new StoreClient({ connectionString: PG_URL });
  watcher = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  await watcher.connect();
  await watcher.query(`CREATE TABLE ${table} (v text PRIMARY KEY)`);
});

afterAll(async () => {
  await watcher.query(`DROP TABLE IF EXISTS ${table}`);
  await client.end();
  await watcher.end();
});

describe("the store's pg client", () => {
  it('opens the transaction with its first statement, and commits it', async () => {
    await client.query('begin', []);
    expect(await state()).toBe('idle');
    const r = await client.query(`INSERT INTO ${table} (v) VALUES ($1) RETURNING v`, ["it's"]);
    expect(r.rows).toEqual([{ v: "it's" }]);
    expect(await state()).toBe('idle in transaction');
    expect(await values()).toEqual([]);
    await client.query('commit', []);
    expect(await state()).toBe('idle');
    expect(await values()).toEqual(["it's"]);
  });

  it('rolls back a first statement sent with its BEGIN, and one sent after a BEGIN of its own', async () => {
    for (const param of ['rolled back', new Date(0)]) {
      await client.query('begin', []);
      await client.query(`INSERT INTO ${table} (v) VALUES ($1::text)`, [param]);
      expect(await state()).toBe('idle in transaction');
      await client.query('rollback', []);
      expect(await state()).toBe('idle');
    }
    expect(await values()).toEqual(["it's"]);
  });

  it('sends nothing for a transaction that ran nothing', async () => {
    await client.query('begin', []);
    expect((await client.query('commit', [])).command).toBe('COMMIT');
    await client.query('begin', []);
    expect((await client.query('rollback', [])).command).toBe('ROLLBACK');
    expect(await state()).toBe('idle');
  });

  it('lets a string commit the transaction, and a failing one leave it to the rollback', async () => {
    await client.query('begin', []);
    await client.query(`INSERT INTO ${table} (v) VALUES ('a'); COMMIT ${ENDS_TRANSACTION}`, []);
    expect(await state()).toBe('idle');
    await client.query('commit', []);
    await client.query('begin', []);
    await client.query(`INSERT INTO ${table} (v) VALUES ($1)`, ['b']);
    await expect(client.query(`INSERT INTO ${table} (v) VALUES ('a'); COMMIT ${ENDS_TRANSACTION}`, [])).rejects.toThrow(/duplicate key/);
    await client.query('rollback', []);
    expect(await state()).toBe('idle');
    expect(await values()).toEqual(['a', "it's"]);
  });

  it('prepares a marked statement once on the connection, and again when its table changed shape', async () => {
    const text = `SELECT * FROM ${table} WHERE v = $1`;
    prepareOnEachConnection(text);
    const prepared = async (): Promise<string[]> => (await client.query('SELECT statement FROM pg_prepared_statements', [])).rows.map((r: { statement: string }) => r.statement);
    expect((await client.query(text, ['a'])).rows).toEqual([{ v: 'a' }]);
    expect((await client.query(text, ['a'])).rows).toEqual([{ v: 'a' }]);
    expect((await prepared()).filter((t) => t === text)).toHaveLength(1);
    // Unmarked statements stay unnamed.
    await client.query(`SELECT v FROM ${table} WHERE v <> $1`, ['x']);
    expect(await prepared()).toEqual([text]);

    // A newer Census adds a column: the prepared SELECT * would fail ("cached plan must not
    // change result type"); outside a transaction it is prepared again and answers.
    await watcher.query(`ALTER TABLE ${table} ADD COLUMN w text`);
    expect((await client.query(text, ['a'])).rows).toEqual([{ v: 'a', w: null }]);
    expect((await client.query(text, ['a'])).rows).toEqual([{ v: 'a', w: null }]);
    // Inside one the error stands (the transaction is aborted), and the next call prepares again.
    await watcher.query(`ALTER TABLE ${table} ADD COLUMN x text`);
    await client.query('begin', []);
    await client.query(`SELECT 1 WHERE $1::text IS NOT NULL`, ['open']);
    await expect(client.query(text, ['a'])).rejects.toThrow(/cached plan must not change result type/);
    await client.query('rollback', []);
    expect((await client.query(text, ['a'])).rows).toEqual([{ v: 'a', w: null, x: null }]);
    expect((await prepared()).filter((t) => t === text)).toHaveLength(3);
  });
});
