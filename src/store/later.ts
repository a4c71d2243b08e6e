/**
 * Writes a transaction keeps for its end (Repositories.later): on PostgreSQL they go to the
 * server with the transaction's log entries, events and COMMIT in one round trip
 * (Store.transaction). A write kept that way can still decide the transaction: one that must
 * take effect (`mustAffect`, say a task's claim) rolls everything back when it changes no row,
 * and the transaction then fails with NotAffected. So "claim, then write the claim's event" is
 * one round trip, not two, and what the event says is never committed without the claim.
 */
import type { CompiledQuery } from 'kysely';

/** Keeps `q` for the transaction's end (or runs it now, outside one). */
export type Later = (q: CompiledQuery, mustAffect?: string) => Promise<void>;

/** A write kept for the end that changed no row though it had to: the transaction rolled back. */
export class NotAffected extends Error {
  constructor(readonly what: string) {
    super(`not committed: ${what}`);
  }
}

export interface KeptWrite {
  q: CompiledQuery;
  /** Says what the write does; set when the transaction must roll back if it changes no row. */
  mustAffect?: string | undefined;
}

/** PostgreSQL's SQLSTATE for a division by zero, which a guarded write raises when it changed nothing. */
const DIVISION_BY_ZERO = '22012';

/**
 * A guarded write as one statement that fails when it changed no row: a count of the rows it
 * returns, divided into 1. The statement runs among others in one string, where no answer comes
 * back in between; the count depends on what the write did, so it is never folded at planning.
 */
export function guardedSql(inlined: string): string {
  return `WITH affected AS (${inlined} RETURNING 1) SELECT 1 / count(*) AS must_affect FROM affected`;
}

/** The NotAffected a failed string means, when it failed on its guard; else the error as it is. */
export function guardFailure(err: unknown, writes: readonly KeptWrite[]): unknown {
  const guard = writes.find((w) => w.mustAffect !== undefined);
  return guard && (err as { code?: string }).code === DIVISION_BY_ZERO ? new NotAffected(guard.mustAffect!) : err;
}

/** Throws NotAffected when a guarded write, run on its own, changed no row. */
export function checkAffected(w: KeptWrite, numAffectedRows: bigint | undefined): void {
  if (w.mustAffect !== undefined && !numAffectedRows) throw new NotAffected(w.mustAffect);
}
