/**
 * Seeing a dead process from the database itself (PostgreSQL). Each engine process holds a
 * session-level advisory lock on a connection of its own for its whole life, keyed on a random
 * number picked at start (never on the pid or host name, which come back after a restart). The
 * key is part of the process's task-owner name. PostgreSQL drops the lock the moment that
 * connection ends — the process was killed, its machine lost power — so any other process can
 * tell a dead owner from a slow one by asking whether the owner's lock is still held, and run its
 * tasks again at once instead of waiting for the lease to run out.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { STORE_CONNECTION_NAMES } from '../core/connection-names.ts';

/** First key of the two-key advisory lock form: which locks are Census process locks. */
const NAMESPACE = 4242100;
/** How an owner name carries its lock key: "worker@host:1234#0a1b2c3d". */
const TAG = /#([0-9a-f]{8})$/;

export interface ProcessLiveness {
  /** Takes this process's lock; returns the tag to append to its owner name ("#0a1b2c3d"). */
  acquire(): Promise<string>;
  /**
   * Of `owners`, those whose process is certainly gone (its lock is free). Owners without a tag
   * (engines that hold no lock) are never reported: only their lease speaks for them.
   */
  gone(owners: string[]): Promise<string[]>;
  release(): Promise<void>;
}

const keyOf = (owner: string): number | undefined => {
  const m = TAG.exec(owner);
  return m ? parseInt(m[1]!, 16) : undefined;
};

export class PgProcessLiveness implements ProcessLiveness {
  private client: pg.Client | undefined;
  private key = 0;
  private closed = false;
  private reconnecting: Promise<void> | undefined;

  constructor(private readonly connectionString: string) {}

  async acquire(): Promise<string> {
    for (;;) {
      // Positive 31-bit keys show up unchanged in pg_locks.objid (an unsigned oid).
      this.key = (randomBytes(4).readUInt32BE() & 0x7fffffff) || 1;
      if (await this.lock()) return `#${this.key.toString(16).padStart(8, '0')}`;
    }
  }

  /** Connects (again) and takes the lock under the current key; false if another process has it. */
  private async lock(): Promise<boolean> {
    const client = new pg.Client({ connectionString: this.connectionString, application_name: STORE_CONNECTION_NAMES.liveness, keepAlive: true });
    client.on('error', () => {
      // The connection broke while the process lives on: the lock went with it. Take it back, so
      // this process's tasks are not mistaken for a dead one's for longer than needed.
      if (this.client === client) void this.reconnect();
    });
    await client.connect();
    const r = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, $2) AS ok', [NAMESPACE, this.key]);
    if (!r.rows[0]?.ok) {
      await client.end().catch(() => {});
      return false;
    }
    this.client = client;
    return true;
  }

  private reconnect(): Promise<void> {
    const old = this.client;
    this.client = undefined;
    void old?.end().catch(() => {});
    this.reconnecting ??= (async () => {
      for (let wait = 250; !this.closed; wait = Math.min(wait * 2, 5_000)) {
        try {
          if (await this.lock()) return;
          await this.acquire(); // someone took our key meanwhile (practically never): pick another
          return;
        } catch {
          await new Promise((resolve) => setTimeout(resolve, wait).unref());
        }
      }
    })().finally(() => (this.reconnecting = undefined));
    return this.reconnecting;
  }

  async gone(owners: string[]): Promise<string[]> {
    const tagged = owners.filter((o) => keyOf(o) !== undefined);
    if (!tagged.length || !this.client) return [];
    const r = await this.client.query<{ objid: string }>(
      "SELECT objid::text FROM pg_locks WHERE locktype = 'advisory' AND classid = $1 AND objsubid = 2 AND granted",
      [NAMESPACE],
    );
    const held = new Set(r.rows.map((row) => Number(row.objid)));
    return tagged.filter((o) => !held.has(keyOf(o)!));
  }

  async release(): Promise<void> {
    this.closed = true;
    await this.reconnecting?.catch(() => {});
    const client = this.client;
    this.client = undefined;
    // Ending the connection releases the lock.
    await client?.end().catch(() => {});
  }
}
