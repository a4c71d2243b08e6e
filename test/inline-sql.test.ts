/**
 * The end of a transaction that wrote events, on PostgreSQL, is one string of statements with
 * their parameters written as literals (src/store/inline-sql.ts): what goes in must come back
 * byte for byte, whatever it holds, and a failure anywhere must leave nothing committed.
 */
import pg from 'pg';
import { CompiledQuery } from 'kysely';
import { describe, expect, it } from 'vitest';
import { literalOf, tryInline } from '../src/store/inline-sql.ts';
import { PG_URL, postgresStore } from './support/stores.ts';

const NASTY = [
  "it's", 'back\\slash', "\\'", "'); DROP TABLE logs; --", '$1 $2 $$ $tag$', 'E\'\\x41\'', 'line\nbreak\ttab\r',
  'naïve ☃ 𝄞', '"quoted"', '\\\\\\', '', ' ',
];

describe('SQL literals', () => {
  it('writes each value as the text node-pg would send, as a constant typed where it stands, and refuses what node-pg converts its own way', () => {
    expect(literalOf(null)).toBe('NULL');
    expect(literalOf(undefined)).toBe('NULL');
    expect(literalOf(-12.5)).toBe("E'-12.5'");
    expect(literalOf(17n)).toBe("E'17'");
    expect(literalOf(true)).toBe("E'true'");
    expect(literalOf({})).toBeUndefined();
    expect(literalOf(new Date(0))).toBeUndefined();
    expect(literalOf(Buffer.from('x'))).toBeUndefined();
    expect(literalOf([1])).toBeUndefined();
    expect(() => literalOf('a\0b')).toThrow(/NUL/);
  });

  it('replaces placeholders but not a $ and digits inside a quoted identifier', () => {
    const q = CompiledQuery.raw('insert into "t$1" ("a", "b""$2") values ($1, $2)', ["x'y", 3]);
    expect(tryInline(q.sql, q.parameters)).toBe(`insert into "t$1" ("a", "b""$2") values (E'x''y', E'3')`);
    expect(() => tryInline('select $2', [1])).toThrow(/\$2/);
    expect(tryInline('select $1', [{ a: 1 }])).toBeUndefined();
  });

  it('types a number where it stands, as a parameter is: compared with text, with a bigint, used as a limit', async () => {
    const c = new pg.Client({ connectionString: PG_URL });
    await c.connect();
    try {
      const q = tryInline("SELECT 'x' || $1 AS t, $2::bigint + 1 AS n, (SELECT count(*) FROM (VALUES (1), (2), (3)) v LIMIT $3) AS c, '7' = $4 AS eq", [5, 41, 2, 7])!;
      const { rows } = await c.query(q);
      expect(rows[0]).toEqual({ t: 'x5', n: '42', c: '3', eq: true });
    } finally {
      await c.end();
    }
  });

  it('round-trips every string through the server, with standard_conforming_strings on and off', async () => {
    const c = new pg.Client({ connectionString: PG_URL });
    await c.connect();
    try {
      for (const scs of ['on', 'off']) {
        await c.query(`SET standard_conforming_strings = ${scs}`);
        for (const s of NASTY) {
          const { rows } = await c.query<{ v: string }>(`SELECT ${literalOf(s)}::text AS v`);
          expect(rows[0]!.v).toBe(s);
        }
      }
    } finally {
      await c.end();
    }
  });
});

describe('the commit of a transaction that wrote events, on PostgreSQL', () => {
  it('commits the log entries and events it carries, as written', async () => {
    const t = await postgresStore();
    try {
      const entries = NASTY.map((s, i) => ({
        id: `id-${i}`, sessionId: 1, jobId: 1004, taskId: null, logTime: 1_000 + i, type: 'INFO' as const,
        messageId: 'CNSX0001', messageParams: [s], message: s,
      }));
      await t.store.transaction(async (r) => {
        await r.logs.add(entries);
        await r.events.add(...NASTY.map((s) => ({ type: 'log' as const, jobId: 1004, sessionId: 1, data: { s } })));
      });
      const events = await t.store.events.after(0, {}, 100);
      expect(events.map((e) => (e.data as { s: string }).s)).toEqual(NASTY);
      const logs = await t.store.logs.list({ where: [], order: [], limit: 100, offset: 0 });
      expect(logs.items.map((l) => [l.message, l.messageParams])).toEqual(NASTY.map((s) => [s, [s]]));
      // The next transaction on the same pooled connections works as usual.
      await t.store.transaction((r) => r.events.add({ type: 'log', jobId: 1004, sessionId: 1, data: 'after' }));
      expect((await t.store.events.after(0, {}, 100)).map((e) => e.data).at(-1)).toBe('after');
    } finally {
      await t.cleanup();
    }
  });

  it('commits nothing when the end cannot be written: not the rows, not the log entries, not the events', async () => {
    const t = await postgresStore();
    try {
      await expect(t.store.transaction(async (r) => {
        await r.settings.put('marker', 1);
        await r.logs.add([{
          id: 'bad', sessionId: 1, jobId: 1004, taskId: null, logTime: 1, type: 'INFO', messageId: 'X', messageParams: [], message: 'a\0b',
        }]);
        await r.events.add({ type: 'log', jobId: 1004, sessionId: 1, data: 'lost' });
      })).rejects.toThrow(/NUL/);
      // A duplicate log id fails on the server, inside the one string.
      await t.store.transaction((r) => r.logs.add([{
        id: 'dup', sessionId: 1, jobId: 1004, taskId: null, logTime: 1, type: 'INFO', messageId: 'X', messageParams: [], message: 'first',
      }]));
      await expect(t.store.transaction(async (r) => {
        await r.settings.put('marker', 2);
        await r.logs.add([{
          id: 'dup', sessionId: 1, jobId: 1004, taskId: null, logTime: 2, type: 'INFO', messageId: 'X', messageParams: [], message: 'second',
        }]);
        await r.events.add({ type: 'log', jobId: 1004, sessionId: 1, data: 'lost too' });
      })).rejects.toThrow();
      expect(await t.store.settings.get('marker', null)).toBeNull();
      expect(await t.store.events.latest()).toBe(0);
      expect((await t.store.logs.list({ where: [], order: [], limit: 10, offset: 0 })).items.map((l) => l.message)).toEqual(['first']);
    } finally {
      await t.cleanup();
    }
  });

  it('runs the writes kept for the end (later) with it, and on their own when one cannot be written as a literal', async () => {
    const t = await postgresStore();
    try {
      const put = (name: string, value: string) => t.store.db.insertInto('settings').values({ name, value }).compile();
      // Kept back, the write is not there until the end: a read inside the transaction does not see it.
      const seenInside = await t.store.transaction(async (r) => {
        await r.later(put('kept', JSON.stringify("it's a \\ path")));
        await r.events.add({ type: 'log', jobId: 1004, sessionId: 1, data: 'with kept' });
        return r.settings.get('kept', null);
      });
      expect(seenInside).toBeNull();
      expect(await t.store.settings.get('kept', null)).toBe("it's a \\ path");
      // A parameter no literal is written for (a Date): the end runs statement by statement, and commits.
      const dated = CompiledQuery.raw('INSERT INTO settings (name, value) VALUES ($1, $2::timestamptz::text)', ['dated', new Date(0)]);
      await t.store.transaction(async (r) => {
        await r.later(dated);
        await r.events.add({ type: 'log', jobId: 1004, sessionId: 1, data: 'with dated' });
      });
      expect((await t.store.db.selectFrom('settings').select('value').where('name', '=', 'dated').executeTakeFirst())?.value).toMatch(/^1970-01-01/);
      // A kept write that fails takes the transaction with it.
      await expect(t.store.transaction(async (r) => {
        await r.settings.put('marker', 3);
        await r.later(put('kept', '"again"'));
      })).rejects.toThrow();
      expect(await t.store.settings.get('marker', null)).toBeNull();
      // Outside a transaction, later() writes at once.
      await t.store.later(put('now', '1'));
      expect(await t.store.settings.get('now', null)).toBe(1);
      expect((await t.store.events.after(0, {}, 10)).map((e) => e.data)).toEqual(['with kept', 'with dated']);
    } finally {
      await t.cleanup();
    }
  });
});
