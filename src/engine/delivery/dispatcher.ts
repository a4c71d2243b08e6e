/**
 * The dispatcher (docs/notifications.md), in every process that runs an engine: it turns the
 * notification outbox into deliveries and starts the delivery job (1006) when any is due.
 *
 * One pass: (1) in one transaction, take undispatched notifications (on PostgreSQL locked, and
 * those another dispatcher holds skipped), ask every channel for its deliveries, write them and
 * mark the notifications dispatched — so a notification is fanned out exactly once, whichever
 * process does it and whenever one dies; (2) put back to PENDING the QUEUED deliveries whose task
 * ended without an attempt; (3) if a delivery is due, start job 1006 (a start while it runs joins
 * it, and its type takes the due deliveries); (4) set a timer for the next one falling due.
 *
 * A pass runs shortly after a commit of this process that wrote notifications (within 100 ms, one
 * for all such commits meanwhile), on a poll (~1 s: other processes' notifications and retries
 * coming due), and at the next retry's time.
 */
import type { Channel } from './channel.ts';
import type { EngineContext } from '../context.ts';
import type { NewDelivery } from '../../store/notifications.ts';
import { startJob } from '../session-start.ts';
import { DELIVERY_JOB_ID, DELIVERY_SERVICE } from '../system-jobs.ts';

/** Notifications fanned out per transaction. */
const BATCH = 100;
/** How long after a commit that wrote notifications its pass runs, at most (it takes the others that came meanwhile). */
const COALESCE_MS = 100;

export interface DispatcherOptions {
  channels: readonly Channel[];
  /** How often to look without being woken (default 1 s). */
  pollMs?: number;
}

export class Dispatcher {
  private timer: NodeJS.Timeout | undefined;
  private dueTimer: NodeJS.Timeout | undefined;
  /** When dueTimer fires (clock time). */
  private dueAt = Infinity;
  private soonTimer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  private running: Promise<void> | undefined;
  /** Woken while a pass ran: run another when it ends. */
  private again = false;
  private stopped = false;
  private lastError = '';

  constructor(
    private readonly e: EngineContext,
    private readonly o: DispatcherOptions,
  ) {}

  start(): void {
    if (!this.canSend()) return;
    this.stopped = false;
    this.unsubscribe = this.e.store.onNotificationsCommitted(() => this.soon());
    const poll = () => {
      this.timer = setTimeout(() => {
        this.wake();
        poll();
      }, this.o.pollMs ?? 1_000);
      this.timer.unref();
    };
    poll();
    this.wake();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    clearTimeout(this.timer);
    clearTimeout(this.dueTimer);
    clearTimeout(this.soonTimer);
    await this.running;
  }

  /**
   * A pass within COALESCE_MS, for the commits of this process that wrote notifications: a
   * session's tasks each commit one, and a pass per commit would cost more than their tasks'
   * own statements (measured: 400 passes of ~8 statements in a 1,000-server session). One pass
   * takes all that came meanwhile.
   */
  private soon(): void {
    if (this.soonTimer !== undefined || this.stopped) return;
    this.soonTimer = setTimeout(() => {
      this.soonTimer = undefined;
      void this.wake();
    }, COALESCE_MS);
    this.soonTimer.unref();
  }

  /** Runs a pass now, or right after the one running. Resolves when the pass it asked for ended. */
  wake(): Promise<void> {
    if (this.stopped || !this.canSend()) return Promise.resolve();
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        try {
          await this.pass();
          this.lastError = '';
        } catch (err) {
          // Logged once per distinct failure (a database gone for a while would flood the log every second).
          const text = (err as Error).message;
          if (text !== this.lastError) console.error(`census: notification dispatch failed: ${text}`);
          this.lastError = text;
        }
      } while (this.again && !this.stopped);
    })().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** No delivery job type (an engine built with one test's own types only): nothing could send. */
  private canSend(): boolean {
    return this.e.jobTypes.get(DELIVERY_SERVICE) !== undefined;
  }

  /**
   * Fans out what waits, makes stranded deliveries due again, and starts the delivery job when
   * any is due. One look first: a pass that finds nothing (nearly every poll) is one statement.
   */
  private async pass(): Promise<void> {
    const { store, clock } = this.e;
    let look = await store.notifications.outlook();
    if (look.undispatched) while (!this.stopped && (await this.fanOutBatch()) === BATCH);
    if (look.queued) for (const id of await store.notifications.stranded(BATCH)) await store.notifications.requeue(id, clock.now());
    if (this.stopped) return;
    // Fanning out and requeueing made deliveries due: look again.
    if (look.undispatched || look.queued) look = await store.notifications.outlook();
    if (look.nextDue !== null && look.nextDue <= clock.now()) {
      await startJob(this.e, DELIVERY_JOB_ID, { by: 'Census', trigger: 'notification' });
    }
    if (look.nextDue !== null) this.wakeAt(look.nextDue);
  }

  /** Fans out one batch in one transaction; returns how many notifications it took. */
  private fanOutBatch(): Promise<number> {
    return this.e.store.transaction(async (r) => {
      const now = this.e.clock.now();
      const taken = await r.notifications.undispatched(BATCH);
      if (!taken.length) return 0;
      const rows: NewDelivery[] = [];
      for (const c of this.o.channels) rows.push(...(await c.fanOut(r, taken, now)));
      await r.notifications.addDeliveries(rows, now);
      await r.notifications.markDispatched(taken.map((n) => n.id), now);
      return taken.length;
    });
  }

  /**
   * A pass when a retry falls due at `at` (clock time), if that is before the next poll: the
   * delivery job calls it when it puts a delivery back to PENDING, the pass for the earliest one.
   */
  wakeAt(at: number): void {
    if (this.stopped) return;
    const wait = at - this.e.clock.now();
    const poll = this.o.pollMs ?? 1_000;
    if (wait >= poll) return; // the poll comes first
    if (this.dueTimer !== undefined && this.dueAt <= at) return; // an earlier wake-up is set already
    clearTimeout(this.dueTimer);
    this.dueAt = at;
    this.dueTimer = setTimeout(() => {
      this.dueTimer = undefined;
      this.dueAt = Infinity;
      void this.wake();
    }, Math.max(0, wait) + 5);
    this.dueTimer.unref();
  }
}
