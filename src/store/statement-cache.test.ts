import SQLite from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { cachingStatements } from './db.ts';

describe('cachingStatements', () => {
  it('compiles a text once, answers with the same statement, and drops the least recently used past its size', () => {
    const raw = new SQLite(':memory:');
    let compiled = 0;
    const counting = new Proxy(raw, {
      get: (t, p) => (p === 'prepare' ? (sql: string) => (compiled++, t.prepare(sql)) : ((v) => (typeof v === 'function' ? v.bind(t) : v))(Reflect.get(t, p, t))),
    });
    const db = cachingStatements(counting, 2);
    const a = db.prepare('SELECT 1 AS a');
    expect(db.prepare('SELECT 1 AS a')).toBe(a);
    expect(compiled).toBe(1);
    db.prepare('SELECT 2 AS b');
    db.prepare('SELECT 1 AS a'); // used again: now the most recent
    db.prepare('SELECT 3 AS c'); // pushes out 'SELECT 2'
    expect(compiled).toBe(3);
    expect(db.prepare('SELECT 1 AS a')).toBe(a);
    db.prepare('SELECT 2 AS b');
    expect(compiled).toBe(4);
    // Everything else is the database itself.
    db.exec('CREATE TABLE t (x INTEGER)');
    expect(db.prepare('SELECT count(*) AS n FROM t').get()).toEqual({ n: 0 });
    raw.close();
  });
});
