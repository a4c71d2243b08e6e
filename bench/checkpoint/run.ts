/**
 * Benchmark: time the event loop spends in SQLite commits during a commit-heavy spell, with the
 * checkpoints on the server's connection (SQLite's default: every 1,000 WAL pages, inside a
 * commit) against the checkpoint thread (src/store/checkpointer.ts), in the same run, in turn.
 *
 *   node --import tsx bench/checkpoint/run.ts
 *
 * Environment: CKPT_COMMITS (default 6000 a round), CKPT_ROUNDS (default 4: two of each, in turn).
 *
 * Each commit updates a row of a 20,000-row table and inserts two log rows (a task's end, in
 * miniature), five at a time with a 2 ms pause between, as a session's tasks end. Prints the
 * sum, p50, p99 and max of the commits' time on the event loop, the commits over 1 ms and their sum, and the ratio thread/default of
 * the sums (lower is better).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { startCheckpointer } from '../../src/store/checkpointer.ts';

const num = (name: string, fallback: number) => {
  const n = Number(process.env[name] ?? fallback);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number`);
  return Math.round(n);
};
const COMMITS = num('CKPT_COMMITS', 6000);
const ROUNDS = num('CKPT_ROUNDS', 4);

interface Round { mode: 'default' | 'thread'; sumMs: number; p50: number; p99: number; max: number; slow: number; slowMs: number }

async function round(mode: Round['mode']): Promise<Round> {
  const dir = mkdtempSync(join(tmpdir(), 'census-ckpt-bench-'));
  const file = join(dir, 'census.db');
  const db = new SQLite(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT, b INTEGER); CREATE INDEX tb ON t (b);' +
    'CREATE TABLE l (id INTEGER PRIMARY KEY, s INTEGER, m TEXT); CREATE INDEX ls ON l (s);');
  const fill = db.prepare('INSERT INTO t (a, b) VALUES (?, ?)');
  db.transaction(() => { for (let i = 0; i < 20_000; i++) fill.run('x'.repeat(200), i); })();
  db.pragma('wal_checkpoint(TRUNCATE)');
  const checkpointer = mode === 'thread' ? startCheckpointer(file, db) : undefined;
  const update = db.prepare('UPDATE t SET a = ?, b = ? WHERE id = ?');
  const log = db.prepare('INSERT INTO l (s, m) VALUES (?, ?)');
  const begin = db.prepare('BEGIN');
  const commit = db.prepare('COMMIT');
  const times: number[] = [];
  for (let i = 0; i < COMMITS;) {
    for (let k = 0; k < 5 && i < COMMITS; k++, i++) {
      begin.run();
      update.run('y'.repeat(200), i, 1 + ((i * 7919) % 20_000));
      log.run(i, `task ${i} ended`);
      log.run(i, 'COMPLETED');
      const t0 = process.hrtime.bigint();
      commit.run();
      times.push(Number(process.hrtime.bigint() - t0) / 1000);
    }
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  await checkpointer?.stop();
  db.close();
  rmSync(dir, { recursive: true, force: true });
  times.sort((a, b) => a - b);
  const at = (p: number) => times[Math.min(times.length - 1, Math.floor(times.length * p))]!;
  const slow = times.filter((t) => t > 1000);
  return { mode, sumMs: times.reduce((a, b) => a + b, 0) / 1000, p50: at(0.5), p99: at(0.99), max: times[times.length - 1]!, slow: slow.length, slowMs: slow.reduce((a, b) => a + b, 0) / 1000 };
}

const rounds: Round[] = [];
for (let r = 0; r < ROUNDS; r++) rounds.push(await round(r % 2 ? 'thread' : 'default'));
console.log(`checkpoint benchmark: ${COMMITS} commits a round, node ${process.version}`);
console.log(`${'mode'.padEnd(8)} ${'sum ms'.padStart(8)} ${'p50 µs'.padStart(8)} ${'p99 µs'.padStart(8)} ${'max µs'.padStart(9)} ${'over 1 ms'.padStart(10)} ${'their ms'.padStart(9)}`);
for (const r of rounds) console.log(`${r.mode.padEnd(8)} ${r.sumMs.toFixed(0).padStart(8)} ${r.p50.toFixed(0).padStart(8)} ${r.p99.toFixed(0).padStart(8)} ${r.max.toFixed(0).padStart(9)} ${String(r.slow).padStart(10)} ${r.slowMs.toFixed(0).padStart(9)}`);
const total = (mode: Round['mode']) => rounds.filter((r) => r.mode === mode).reduce((a, r) => a + r.sumMs, 0);
console.log(`checkpoint: thread/default = ${(total('thread') / total('default')).toFixed(2)} of the event loop's time in commits (sum of ${ROUNDS / 2} rounds each)`);
