/**
 * Time keeping shared by the collectors: one budget per run, and a race of the work against
 * the run's deadline and its abort signal.
 */

/** Optional work given less than this would almost surely run out; not worth starting. */
const MIN_OPTIONAL_MS = 50;

/**
 * The time of one run. Optional work (sizes, per-database reads) may only use time down to a
 * reserve: what is left then is for assembling the answer and logging out, so optional work can
 * never turn a good collection into a TIMEOUT. Each collector says how big its reserve is.
 */
export class Budget {
  readonly deadline: number;
  private readonly reserveMs: number;

  constructor(
    readonly timeoutMs: number,
    reserve: (timeoutMs: number) => number,
  ) {
    this.deadline = Date.now() + timeoutMs;
    this.reserveMs = reserve(timeoutMs);
  }

  remaining(): number {
    return Math.max(0, this.deadline - Date.now());
  }

  /** How long optional work may run if started now; 0 means skip it. */
  forOptionalWork(): number {
    return optionalAllowance(this.remaining(), this.reserveMs);
  }
}

/** Exported for the unit test of the policy; Budget is the only caller. */
export function optionalAllowance(remainingMs: number, reserveMs: number): number {
  const ms = Math.floor(remainingMs - reserveMs);
  return ms >= MIN_OPTIONAL_MS ? ms : 0;
}

/**
 * Settles with `work`, or rejects with `errors.timeout()` at `deadline` (epoch ms), or with
 * `errors.cancelled()` when `signal` aborts, whichever comes first.
 */
export function raceDeadline<T>(
  work: Promise<T>,
  deadline: number,
  signal: AbortSignal,
  errors: { timeout: () => Error; cancelled: () => Error },
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const finish = (settle: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      settle();
    };
    const onAbort = () => finish(() => reject(errors.cancelled()));
    const timer = setTimeout(() => finish(() => reject(errors.timeout())), Math.max(0, deadline - Date.now()));
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    // Handling both outcomes here also keeps a late rejection of `work` from going unhandled.
    work.then(
      (value) => finish(() => resolve(value)),
      (err: unknown) => finish(() => reject(err)),
    );
  });
}
