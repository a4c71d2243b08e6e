/**
 * A fixed query (store/rows.ts) is built and compiled once per database kind and then only given
 * new values: it must say exactly what the query built afresh says, on both kinds, and refuse a
 * build that does not use each argument once as a parameter.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { fixedQuery, type Db } from '../src/store/rows.ts';
import { DIALECTS, type TestStore } from './support/stores.ts';

const build = (db: Db, id: number, owner: string | null, until: number) => db.updateTable('tasks')
  .set((eb) => ({ status: 'RUNNING', owner, leaseExpires: until, attempts: eb('attempts', '+', 1) }))
  .where('id', '=', id).where('status', 'in', ['PENDING', 'RUNNING']);

describe.each(DIALECTS)('a fixed query on %s', (_name, open) => {
  let t: TestStore | undefined;
  afterEach(async () => {
    await t?.cleanup();
    t = undefined;
  });

  it('says what the query built afresh says, for any values, and runs', async () => {
    t = await open();
    const db = t.store.db;
    const fixed = fixedQuery(build);
    const cases: [number, string | null, number][] = [[1, 'a', 10], [2, null, 20], [3, "o'wner \\ x", 30]];
    for (const [id, owner, until] of cases) {
      const q = fixed(db, id, owner, until);
      const fresh = build(db, id, owner, until).compile();
      expect(q.sql).toBe(fresh.sql);
      expect(q.parameters).toEqual(fresh.parameters);
    }
    // It runs, and its rows come back camelCase like any other read.
    const read = fixedQuery((d, name: string) => d.selectFrom('settings').select(['name', 'value as storedValue']).where('name', '=', name));
    await t.store.settings.put('k', { a: 1 });
    expect((await db.executeQuery(read(db, 'k'))).rows).toEqual([{ name: 'k', storedValue: '{"a":1}' }]);
    expect((await db.executeQuery(read(db, 'missing'))).rows).toEqual([]);
  });

  it('refuses a build that uses an argument twice, not at all, or not as a parameter of its own', async () => {
    t = await open();
    const db = t.store.db;
    const twice = fixedQuery((d, id: number) => d.selectFrom('tasks').select('id').where('id', '=', id).where('sessionId', '=', id));
    expect(() => twice(db, 1)).toThrow(/each of its 1 arguments once/);
    const unused = fixedQuery((d, _id: number) => d.selectFrom('tasks').select('id'));
    expect(() => unused(db, 1)).toThrow(/each of its 1 arguments once/);
    const inJson = fixedQuery((d, name: string) => d.selectFrom('settings').select('name').where('value', '=', JSON.stringify({ name })));
    expect(() => inJson(db, 'x')).toThrow(/each of its 1 arguments once/);
  });
});
