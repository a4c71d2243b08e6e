/**
 * SQLite's WAL checkpoints, run on a thread of their own.
 *
 * In WAL mode a commit appends pages to the `-wal` file, and a checkpoint copies them back into
 * the database file and syncs both to disk. By default the connection that commits runs the
 * checkpoint itself whenever the WAL passes 1,000 pages: on Census's one event loop that meant a
 * stall of 5–100 ms (the syncs) every few dozen commits during a session, while API requests
 * waited. Measured in bench/reads with a 10,000-task session running: commits took 110 µs at the
 * median, and the ones that checkpointed added up to 0.17–0.19 s of every 10 s.
 *
 * So the server's connection checkpoints only as a backstop (a much larger WAL, should this
 * thread die), and a worker thread with a second connection to the same file runs a PASSIVE
 * checkpoint at a fixed interval: it copies what no reader still needs, and neither it nor the
 * writer waits for the other's lock (SQLite's own design for this: "run checkpoints in a
 * separate thread", sqlite.org/wal.html). A commit that writes while the thread syncs can still
 * be slowed by the disk: bench/checkpoint counts the stalls over 1 ms, 32–33 a round before and
 * 4–11 after. The next commit after a complete checkpoint starts the WAL from its beginning
 * again, so the file stays the size of an interval's writes.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type SQLite from 'better-sqlite3';

export interface CheckpointerOptions {
  /** Between two checkpoints, ms (default 500). */
  intervalMs?: number;
  /** WAL pages at which the server's own connection checkpoints anyway (default 20,000: ~80 MB). */
  backstopPages?: number;
}

export interface Checkpointer {
  /**
   * Stops the thread. Terminating it is safe: it stops only between JavaScript statements, never
   * inside a checkpoint, and better-sqlite3 closes a thread's connections as the thread exits.
   */
  stop(): Promise<void>;
}

// The thread's code. A string, so that it runs the same from src (tsx) and from dist; it loads
// better-sqlite3 from the path this module resolves.
const THREAD = `
const { workerData } = require('node:worker_threads');
const Database = require(workerData.module);
const db = new Database(workerData.file, { fileMustExist: true });
// The checkpoint syncs the WAL and then the database file whatever this says; NORMAL as the server's.
db.pragma('synchronous = NORMAL');
const checkpoint = () => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch {
    // SQLITE_BUSY (another checkpoint, a backup's exclusive lock): the next interval tries again.
  }
};
setInterval(checkpoint, workerData.intervalMs);
`;

export function startCheckpointer(file: string, connection: SQLite.Database, options: CheckpointerOptions = {}): Checkpointer {
  connection.pragma(`wal_autocheckpoint = ${options.backstopPages ?? 20_000}`);
  // The WAL restarts from its beginning after each complete checkpoint; past a busy spell, the
  // file is cut back to 64 MB instead of keeping its largest size.
  connection.pragma('journal_size_limit = 67108864');
  const worker = new Worker(THREAD, {
    eval: true,
    workerData: { file, module: createRequire(import.meta.url).resolve('better-sqlite3'), intervalMs: options.intervalMs ?? 500 },
  });
  // The thread must not keep a process alive that has nothing else to do.
  worker.unref();
  let failed = false;
  worker.on('error', (err) => {
    // The backstop keeps the WAL bounded; say it once, without the path's contents.
    failed = true;
    console.error(`census: the SQLite checkpoint thread stopped (${err.message}); the server's connection checkpoints from now on`);
    try {
      connection.pragma('wal_autocheckpoint = 1000');
    } catch {
      // The store is already closed.
    }
  });
  return {
    async stop() {
      if (!failed) await worker.terminate();
    },
  };
}
