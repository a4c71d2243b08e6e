/**
 * The job engine: starts job sessions, fans them out into tasks through the queue port, runs
 * each task, and closes the session when its last task ends. All state is in the store, so a
 * restarted process can tell what was left unfinished and close it honestly.
 *
 * This module holds the engine's life (init, start, stop, its repeating loops) and its public
 * face; the work is in the modules named for it: session-start, session-cancel,
 * session-progress, task-runner, recovery, connection-test. What a session is about belongs to
 * its job type (jobtypes/), looked up by the job's serviceId.
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import type { Collector, ConnectionCheck } from '../collectors/types.ts';
import type { Clock } from '../core/clock.ts';
import type { SecretBox } from '../core/secret-box.ts';
import { isSessionLive } from '../core/status.ts';
import type { JobSession, SessionState } from '../core/types.ts';
import type { Store } from '../store/index.ts';
import { testConnection } from './connection-test.ts';
import type { EngineContext, EngineEvents } from './context.ts';
import { builtInJobTypes, JobTypes, type JobType, type StartRequest } from './jobtypes/index.ts';
import type { ProcessLiveness } from './process-lock.ts';
import { holdsBack, type TaskQueue } from './queue.ts';
import { reapOrphans, resume, sweep } from './recovery.ts';
import { nextFireTime } from './schedule.ts';
import { cancelSession } from './session-cancel.ts';
import { enqueue } from './session-progress.ts';
import { startJob, type StartResult } from './session-start.ts';
import { SYSTEM_JOBS } from './system-jobs.ts';
import { lookAhead, runTask } from './task-runner.ts';
import type { Channel } from './delivery/channel.ts';
import { Dispatcher } from './delivery/dispatcher.ts';
import { deliveryJobType } from './jobtypes/delivery.ts';
import { DELIVERY_SERVICE } from './system-jobs.ts';
import { checkStalled } from './alerts.ts';

export type { StartRequest, StartResult };

export interface EngineOptions {
  store: Store;
  clock: Clock;
  queue: TaskQueue;
  secrets: SecretBox;
  collectors: ReadonlyMap<string, Collector>;
  /**
   * The job types this engine runs (default: the built-in ones, application server inventory
   * and maintenance, set up from the options here).
   */
  jobTypes?: readonly JobType[];
  /** Deadline of one server's inventory (ms). */
  taskTimeoutMs?: number;
  /** Extra attempts for retryable failures (refused, timeout), and the first back-off delay. */
  retries?: number;
  retryDelayMs?: number;
  /** Login sessions idle this long are removed by maintenance. */
  loginIdleMs?: number;
  /**
   * How long a claim on a running task holds without renewal. A process that dies stops renewing;
   * after this its tasks run again elsewhere (default 60 s).
   */
  leaseMs?: number;
  /** How often running tasks renew their lease and look for a cancel (default 5 s). */
  heartbeatMs?: number;
  /** How often this process looks for expired leases and lost queue messages (default 5 s). */
  sweepMs?: number;
  /** Attempts a task gets when the processes running it keep dying (default 3). */
  maxAttempts?: number;
  /** Tasks running at once across every process sharing the database (default: no limit). */
  estateConcurrency?: number;
  /**
   * How often a running session's percent is counted again as its tasks end (default 1 s; 0: at
   * every end). Its close is never held back: the end that leaves no open task counts at once.
   */
  progressIntervalMs?: number;
  /** Name of this process in logs and task owners (default host:pid:nonce). */
  processName?: string;
  /**
   * How other processes can tell that this one died (PostgreSQL: an advisory lock held for the
   * process's life). With it, a dead process's tasks run again within seconds, not after the lease.
   */
  liveness?: ProcessLiveness;
  /** How often to look for tasks of processes that died, when `liveness` is given (default 1 s). */
  orphanCheckMs?: number;
  /** Where notifications go (docs/notifications.md): the webhook and e-mail channels, built by main.ts (default: none). */
  channels?: readonly Channel[];
  /** Back-off after a delivery's first failed attempt, doubling each time up to the second (default 10 s, 1 h). */
  deliveryRetryMs?: number;
  deliveryRetryMaxMs?: number;
  /** How often the dispatcher looks for notifications and due deliveries without being woken (default 1 s). */
  dispatchPollMs?: number;
  /** How often this process looks for sessions that stopped moving (the session.stalled alert, default 30 s). */
  stalledCheckMs?: number;
  /**
   * This process as a worker (/api/vadp, docs/sites.md), given when it runs tasks: init()
   * registers it in its site, the sweep loop renews its heartbeat, stop() marks it STOPPED.
   */
  worker?: { siteId: number; version: string; address?: string | null };
}

export class Engine extends EventEmitter {
  private readonly o: Required<Omit<EngineOptions, 'liveness' | 'jobTypes' | 'worker'>> & Pick<EngineOptions, 'liveness' | 'worker'>;
  /** This process's row in the workers table, once registered. */
  private workerId: number | undefined;
  private readonly e: EngineContext;
  private loops: { timer: NodeJS.Timeout | undefined; running: Promise<void> | undefined }[] = [];
  private readonly dispatcher: Dispatcher;

  constructor(options: EngineOptions) {
    super();
    this.o = {
      taskTimeoutMs: 60_000, retries: 2, retryDelayMs: 1_000, loginIdleMs: 45 * 60_000, leaseMs: 60_000, heartbeatMs: 5_000,
      sweepMs: 5_000, maxAttempts: 3, estateConcurrency: 0, progressIntervalMs: 1_000, processName: `${hostname()}:${process.pid}:${randomBytes(2).toString('hex')}`,
      orphanCheckMs: 1_000, channels: [], deliveryRetryMs: 10_000, deliveryRetryMaxMs: 3_600_000, dispatchPollMs: 1_000, stalledCheckMs: 30_000,
      ...options,
    };
    const o = this.o;
    this.e = {
      store: o.store, clock: o.clock, queue: o.queue, liveness: o.liveness,
      jobTypes: new JobTypes(withDelivery(options.jobTypes ?? builtInJobTypes(o), o, (at) => this.dispatcher.wakeAt(at))),
      settings: { leaseMs: o.leaseMs, heartbeatMs: o.heartbeatMs, maxAttempts: o.maxAttempts, estateConcurrency: o.estateConcurrency, progressIntervalMs: o.progressIntervalMs },
      state: { owner: o.processName, stopping: false, abandoning: false },
      mine: new Map(),
      looks: new Map(),
      ending: new Set(),
      counting: new Map(),
      counted: new Map(),
      emit: <K extends keyof EngineEvents>(event: K, value: EngineEvents[K]) => void this.emit(event, value),
    };
    this.dispatcher = new Dispatcher(this.e, { channels: o.channels, pollMs: o.dispatchPollMs });
  }

  /** This process's name as its tasks' owner (with its liveness tag after init()). */
  get processName(): string {
    return this.e.state.owner;
  }

  /**
   * Creates the system jobs a new database lacks, fills in fire times, and picks up what a
   * previous process left unfinished. `exclusive`: this process is the only one using the
   * database (the embedded SQLite default), so every RUNNING task is an orphan right now.
   */
  async init(options: { exclusive?: boolean } = {}): Promise<void> {
    const { state } = this.e;
    // Hold the liveness lock before claiming anything, so no task of ours ever looks orphaned.
    if (this.o.liveness && state.owner === this.o.processName) state.owner += await this.o.liveness.acquire();
    for (const job of SYSTEM_JOBS) {
      await this.o.store.jobs.ensure({ ...job, nextFireTime: job.schedule && nextFireTime(job.schedule, this.o.clock.now()) });
    }
    if (this.o.worker && this.workerId === undefined) {
      const now = Date.now();
      const w = await this.o.store.workers.register({
        name: hostname(), address: this.o.worker.address ?? null, siteId: this.o.worker.siteId, version: this.o.worker.version,
        pid: process.pid, owner: state.owner, leaseMs: this.o.leaseMs, startedAt: now, lastSeenAt: now,
        sharedCpu: this.o.queue.sharedHostCpu === undefined ? null : Math.round(this.o.queue.sharedHostCpu * 100),
      });
      this.workerId = w.id;
      await this.tellQueueOfHost(now);
    }
    await resume(this.e, options.exclusive ?? this.o.store.dialect === 'sqlite');
  }

  /**
   * Tells the queue whether a worker of this site started earlier on this machine and still
   * runs: then this one takes tasks only while the machine has idle CPU (pgboss-queue.ts,
   * shareHost). At registration and at each heartbeat, so a worker becomes the first on its
   * machine once the earlier one stopped or died.
   */
  private async tellQueueOfHost(now: number): Promise<void> {
    // A queue that never holds back (`--shared-cpu 100`) has nothing to learn: no read each heartbeat.
    if (this.workerId === undefined || !holdsBack(this.o.queue)) return;
    this.o.queue.shareHost!(await this.o.store.workers.earlierOnHost({ id: this.workerId, name: hostname(), siteId: this.o.worker!.siteId }, now));
  }

  /** This process's worker id (/api/vadp), when it registered as one. */
  get worker(): number | undefined {
    return this.workerId;
  }

  /** Starts taking tasks from the queue (`runTasks`) and sweeping for lost work. */
  start(options: { runTasks?: boolean } = {}): void {
    this.e.state.stopping = false;
    if (options.runTasks ?? true) this.o.queue.start((t, signal) => runTask(this.e, t, signal), (t) => lookAhead(this.e, t));
    // The worker's heartbeat rides on the sweep's cadence: one timer, and a process too busy to
    // sweep for a whole lease is rightly shown as not answering.
    this.repeat('sweep', this.o.sweepMs, async () => {
      if (this.workerId !== undefined) {
        const now = Date.now();
        await this.o.store.workers.beat(this.workerId, now);
        await this.tellQueueOfHost(now);
      }
      await sweep(this.e);
    });
    if (this.o.liveness) this.repeat('dead-process check', this.o.orphanCheckMs, () => reapOrphans(this.e));
    this.dispatcher.start();
    this.repeat('stalled-session check', this.o.stalledCheckMs, async () => void (await this.checkStalled()));
  }

  /** Runs `fn` every `ms` (after each run ends) until stop(). */
  private repeat(what: string, ms: number, fn: () => Promise<void>): void {
    const loop: (typeof this.loops)[number] = { timer: undefined, running: undefined };
    this.loops.push(loop);
    const next = () => {
      loop.timer = setTimeout(() => {
        loop.running = fn().catch((err: Error) => console.error(`census: ${what} failed: ${err.message}`)).finally(() => {
          loop.running = undefined;
          if (!this.e.state.stopping) next();
        });
      }, ms);
      loop.timer.unref();
    };
    next();
  }

  /**
   * Stops taking tasks and hands the running ones back unfinished: each is PENDING again and
   * queued for another process (or this one's next start), with a log entry that says so.
   * `abandon`: record nothing and leave them to their leases, as a killed process would (tests
   * stand in for a crash this way).
   */
  async stop(options: { abandon?: boolean } = {}): Promise<void> {
    this.e.state.stopping = true;
    this.e.state.abandoning = options.abandon ?? false;
    await this.dispatcher.stop();
    for (const l of this.loops) clearTimeout(l.timer);
    await Promise.all(this.loops.map((l) => l.running)); // the store may close next: let a sweep in flight finish first
    this.loops = [];
    await this.o.queue.stop();
    await Promise.allSettled([...this.e.ending]);
    for (const c of this.e.counted.values()) clearTimeout(c.timer);
    this.e.counted.clear();
    // A killed process says nothing: its row keeps its last heartbeat, and readers see it go dead.
    if (this.workerId !== undefined && !this.e.state.abandoning) await this.o.store.workers.stopped(this.workerId, Date.now()).catch(() => {});
    // Only now: while tasks were being handed back, this process was still alive.
    await this.o.liveness?.release();
  }

  /**
   * Queues again the pending tasks of one site's servers, so that they follow its routing as it
   * is now (after its `allowAnyWorker` changed, or a server moved to it). A message still in the
   * old queue is harmless: only the task's claim decides whether it runs.
   */
  async rerouteSite(siteId: number): Promise<number> {
    if (!this.o.queue.bySite) return 0; // one engine takes every site's tasks: nothing to move
    const pending = await this.o.store.tasks.pendingInSite(siteId);
    const bySession = new Map<number, typeof pending>();
    for (const t of pending) bySession.set(t.sessionId, [...(bySession.get(t.sessionId) ?? []), t]);
    for (const [sessionId, tasks] of bySession) await enqueue(this.e, sessionId, tasks);
    return pending.length;
  }

  /**
   * One pass of the stalled-session watchdog (engine/alerts.ts): raises or clears session.stalled
   * by the clock's time; returns the sessions found stalled. The loop calls it; tests call it too.
   */
  checkStalled(): Promise<number[]> {
    return checkStalled(this.e);
  }

  /**
   * One dispatcher pass now (docs/notifications.md): fans out the notifications written so far,
   * and starts the delivery job if a delivery is due. The loop does this by itself; tests call it
   * to step a fake clock's retries.
   */
  dispatchNotifications(): Promise<void> {
    return this.dispatcher.wake();
  }

  startJob(jobId: number, req: StartRequest): Promise<StartResult> {
    return startJob(this.e, jobId, req);
  }

  /** Asks a running session to stop: pending tasks are dropped, running ones aborted. */
  cancelSession(sessionId: number, by: string): Promise<JobSession> {
    return cancelSession(this.e, sessionId, by);
  }

  /** Runs the collector's connection and privilege checks against one server (spec §7.3). */
  testConnection(appserverId: number, timeoutMs = Math.min(this.o.taskTimeoutMs, 30_000)): Promise<ConnectionCheck[]> {
    return testConnection(this.o, appserverId, timeoutMs);
  }

  /**
   * Resolves with the session once it has ended, whichever process closed it; rejects after
   * `timeoutMs`. This process's own close is heard at once (its 'session-ended' event); another
   * process's is read from the store, which is polled with a back-off from 50 ms up to 1 s.
   */
  waitForSession(sessionId: number, timeoutMs = 120_000): Promise<SessionState> {
    return new Promise((resolve, reject) => {
      let settled = false;
      let poll: NodeJS.Timeout | undefined;
      const finish = (err: Error | null, s?: SessionState) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        clearTimeout(poll);
        this.off('session-ended', onEnd);
        if (err) reject(err);
        else resolve(s!);
      };
      const onEnd = (s: SessionState) => {
        if (s.id === sessionId) finish(null, s);
      };
      const timer = setTimeout(() => finish(new Error(`session ${sessionId} did not end within ${timeoutMs} ms`)), timeoutMs);
      const check = (wait: number) => {
        void this.o.store.sessions.get(sessionId).then(
          (s) => {
            if (s && !isSessionLive(s.status)) finish(null, s);
          },
          () => {}, // the store was busy or briefly unreachable: the next poll asks again
        ).finally(() => {
          if (!settled) poll = setTimeout(() => check(Math.min(wait * 2, 1_000)), wait);
        });
      };
      this.on('session-ended', onEnd);
      check(50);
    });
  }
}

/** The job types, with Notification Delivery (job 1006) unless the list has its own. */
function withDelivery(
  types: readonly JobType[], o: Required<Pick<EngineOptions, 'clock' | 'channels' | 'deliveryRetryMs' | 'deliveryRetryMaxMs'>>, onRetry: (at: number) => void,
): JobType[] {
  if (types.some((t) => t.serviceId === DELIVERY_SERVICE)) return [...types];
  return [...types, deliveryJobType({ clock: o.clock, channels: o.channels, retryBaseMs: o.deliveryRetryMs, retryCapMs: o.deliveryRetryMaxMs, onRetry })];
}
