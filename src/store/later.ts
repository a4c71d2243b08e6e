/**
 * Writes a transaction keeps for its end (Repositories.later): on PostgreSQL they go to the
 * server with the transaction's log entries, events and COMMIT in one round trip
 * (Store.transaction). A write kept that way can still decide the transaction: one that must
 * take effect (`mustAffect`, say a task's claim) rolls everything back when it changes no row,
 * and the transaction then fails with NotAffected (several may be kept; the first that changed
 * nothing is named). So "claim, then write the claim's event" is one round trip, not two, and
 * what the event says is never committed without the claim.
 */
import type { CompiledQuery } from 'kysely';
import { literalOf, tryInline } from './inline-sql.ts';

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

/** Starts the text a guarded write fails with on PostgreSQL (the server's log shows it too). */
const GUARD_TEXT = 'census: no row changed: ';

/**
 * A kept write as text with its values written in, for the string that commits (PostgreSQL);
 * undefined when a value cannot be written as a literal. A guarded write becomes one statement
 * that fails when it changed no row: the rows it returns are counted, and with none a text saying
 * what did not happen is cast to a number, which fails (the error and the server's log then say
 * what). The statement runs among others in one string, where no answer comes back in between;
 * the cast depends on the count, so it is never folded at planning, and it runs only when the
 * count is 0.
 */
export function inlinedWrite({ q, mustAffect }: KeptWrite): string | undefined {
  const text = tryInline(q.sql, q.parameters);
  if (text === undefined || mustAffect === undefined) return text;
  return `WITH affected AS (${text} RETURNING 1) SELECT CAST(CASE WHEN count(*) = 0 THEN ${literalOf(GUARD_TEXT + mustAffect)} ELSE '1' END AS int) AS must_affect FROM affected`;
}

/** The NotAffected a failed string means, when it failed on its guard; else the error as it is. */
export function guardFailure(err: unknown, writes: readonly KeptWrite[]): unknown {
  const message = (err as { message?: string }).message ?? '';
  const guard = writes.find((w) => w.mustAffect !== undefined && message.includes(GUARD_TEXT + w.mustAffect));
  return guard ? new NotAffected(guard.mustAffect!) : err;
}

/** The transaction's value, or undefined when it rolled back because a guarded write changed no row. */
export async function ifAffected<T>(transaction: Promise<T>): Promise<T | undefined> {
  try {
    return await transaction;
  } catch (err) {
    if (err instanceof NotAffected) return undefined;
    throw err;
  }
}

/** Throws NotAffected when a guarded write, run on its own, changed no row. */
export function checkAffected(w: KeptWrite, numAffectedRows: bigint | undefined): void {
  if (w.mustAffect !== undefined && !numAffectedRows) throw new NotAffected(w.mustAffect);
}
