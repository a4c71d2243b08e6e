/**
 * The SQLite checkpoint thread (src/store/checkpointer.ts): what the server's connection commits
 * reaches the database file without that connection checkpointing, and closing folds the WAL in.
 */
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { Store } from '../src/store/index.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function openIn(checkpointThread: boolean): Promise<{ store: Store; file: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'census-ckpt-'));
  dirs.push(dir);
  const file = join(dir, 'census.db');
  return { store: await Store.open({ url: file, checkpointThread }), file };
}

/** About 2 MB in one commit: under the 1,000 pages (4 MB) at which SQLite would checkpoint by itself. */
async function writeTwoMegabytes(store: Store): Promise<void> {
  await sql`CREATE TABLE filler (id INTEGER PRIMARY KEY, body TEXT)`.execute(store.db);
  await store.db.transaction().execute(async (tx) => {
    for (let i = 0; i < 500; i++) await sql`INSERT INTO filler (body) VALUES (${'x'.repeat(4000)})`.execute(tx);
  });
}

async function until(check: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return check();
}

describe('SQLite checkpoints on a thread of their own', () => {
  it('copies committed pages into the database file, which the server\'s connection alone would not yet have done', async () => {
    const on = await openIn(true);
    const off = await openIn(false);
    const before = statSync(on.file).size;
    await writeTwoMegabytes(on.store);
    await writeTwoMegabytes(off.store);
    // In WAL mode only a checkpoint writes the database file: the thread's shows as its growth.
    expect(await until(() => statSync(on.file).size >= before + 2_000_000, 10_000)).toBe(true);
    // The control, checked after the thread's has landed: no thread, no checkpoint yet.
    expect(statSync(off.file).size).toBeLessThan(before + 1_000_000);
    const rows = await sql<{ n: number }>`SELECT count(*) AS n FROM filler`.execute(on.store.db);
    expect(rows.rows[0]!.n).toBe(500);
    await on.store.close();
    await off.store.close();
  });

  it('leaves no WAL behind once the store is closed, and loses nothing', async () => {
    const { store, file } = await openIn(true);
    await writeTwoMegabytes(store);
    expect(existsSync(`${file}-wal`)).toBe(true);
    await store.close();
    // The last connection to close folds the WAL in and removes it: the thread's must be closed too.
    expect(existsSync(`${file}-wal`)).toBe(false);
    const again = await Store.open({ url: file, checkpointThread: false });
    const rows = await sql<{ n: number }>`SELECT count(*) AS n FROM filler`.execute(again.db);
    expect(rows.rows[0]!.n).toBe(500);
    await again.close();
  });
});
