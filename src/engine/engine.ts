/**
 * The job engine: starts job sessions, fans them out into tasks through the queue port, runs
 * each task, and closes the session when its last task ends. All state is in the store, so a
 * restarted process can tell what was left unfinished and close it honestly (recover()).
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import type { Collector, ConnectionCheck, TlsMode } from '../collectors/types.ts';
import type { Clock } from '../core/clock.ts';
import { badRequest, notFound } from '../core/errors.ts';
import { newLogId } from '../core/ids.ts';
import type { SecretBox } from '../core/secret-box.ts';
import { ENDED_TASK_STATUSES, isSessionLive, sessionOutcome, type TaskStatus } from '../core/status.ts';
import { describeChanges } from '../core/inventory-diff.ts';
import type { Job, JobSession, ScopeEntry, SessionStatistic, Task } from '../core/types.ts';
import { logEvent, sessionEvent, taskEvent } from '../store/events.ts';
import type { Repositories, Store } from '../store/index.ts';
import { openCredentials, runInventoryTask, type TaskOutcome } from './inventory-task.ts';
import { runMaintenance } from './maintenance.ts';
import { message, type Message } from './messages.ts';
import type { ProcessLiveness } from './process-lock.ts';
import type { QueuedTask, TaskQueue } from './queue.ts';
import { nextFireTime } from './schedule.ts';
import { APPLICATION_INVENTORY_SERVICE, MAINTENANCE_SERVICE, SYSTEM_JOBS } from './system-jobs.ts';

export interface EngineOptions {
  store: Store;
  clock: Clock;
  queue: TaskQueue;
  secrets: SecretBox;
  collectors: ReadonlyMap<string, Collector>;
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
  /** Name of this process in logs and task owners (default host:pid:nonce). */
  processName?: string;
  /**
   * How other processes can tell that this one died (PostgreSQL: an advisory lock held for the
   * process's life). With it, a dead process's tasks run again within seconds, not after the lease.
   */
  liveness?: ProcessLiveness;
  /** How often to look for tasks of processes that died, when `liveness` is given (default 1 s). */
  orphanCheckMs?: number;
}

export interface StartRequest {
  /** Who asked: a user name, "scheduler", … (logged). */
  by: string;
  /** Why: "manual", "schedule", "registration", "appserver", "first-start". */
  trigger: string;
  /** Inventory only these application servers (default: all). */
  appserverIds?: number[];
}

export interface StartResult {
  session: JobSession;
  /** False when the job was already running and this request joined that run. */
  started: boolean;
}

const isEnded = (s: TaskStatus) => (ENDED_TASK_STATUSES as readonly string[]).includes(s);

export class Engine extends EventEmitter {
  private readonly o: Required<Omit<EngineOptions, 'liveness'>> & Pick<EngineOptions, 'liveness'>;
  private stopping = false;
  private loops: { timer: NodeJS.Timeout | undefined; running: Promise<void> | undefined }[] = [];
  private abandoning = false;
  /** This process as a task owner: its name, plus its liveness lock's tag once it holds one. */
  private owner: string;
  /** Tasks this process runs now, with the controller that aborts each. */
  private mine = new Map<number, { sessionId: number; controller: AbortController }>();

  constructor(options: EngineOptions) {
    super();
    this.o = {
      taskTimeoutMs: 60_000, retries: 2, retryDelayMs: 1_000, loginIdleMs: 45 * 60_000, leaseMs: 60_000, heartbeatMs: 5_000,
      sweepMs: 5_000, maxAttempts: 3, estateConcurrency: 0, processName: `${hostname()}:${process.pid}:${randomBytes(2).toString('hex')}`,
      orphanCheckMs: 1_000,
      ...options,
    };
    this.owner = this.o.processName;
  }

  private get store() {
    return this.o.store;
  }

  private now() {
    return this.o.clock.now();
  }

  /** This process's name as its tasks' owner (with its liveness tag after init()). */
  get processName(): string {
    return this.owner;
  }

  /**
   * Creates the system jobs a new database lacks, fills in fire times, and picks up what a
   * previous process left unfinished. `exclusive`: this process is the only one using the
   * database (the embedded SQLite default), so every RUNNING task is an orphan right now.
   */
  async init(options: { exclusive?: boolean } = {}): Promise<void> {
    // Hold the liveness lock before claiming anything, so no task of ours ever looks orphaned.
    if (this.o.liveness && this.owner === this.o.processName) this.owner += await this.o.liveness.acquire();
    for (const job of SYSTEM_JOBS) {
      await this.store.jobs.ensure({ ...job, nextFireTime: job.schedule && nextFireTime(job.schedule, this.now()) });
    }
    await this.resume(options.exclusive ?? this.store.dialect === 'sqlite');
  }

  /** Starts taking tasks from the queue (`runTasks`) and sweeping for lost work. */
  start(options: { runTasks?: boolean } = {}): void {
    this.stopping = false;
    if (options.runTasks ?? true) this.o.queue.start((t, signal) => this.runTask(t, signal));
    this.repeat('sweep', this.o.sweepMs, () => this.sweep());
    if (this.o.liveness) this.repeat('dead-process check', this.o.orphanCheckMs, () => this.reapOrphans());
  }

  /** Runs `fn` every `ms` (after each run ends) until stop(). */
  private repeat(what: string, ms: number, fn: () => Promise<void>): void {
    const loop: (typeof this.loops)[number] = { timer: undefined, running: undefined };
    this.loops.push(loop);
    const next = () => {
      loop.timer = setTimeout(() => {
        loop.running = fn().catch((err: Error) => console.error(`census: ${what} failed: ${err.message}`)).finally(() => {
          loop.running = undefined;
          if (!this.stopping) next();
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
    this.stopping = true;
    this.abandoning = options.abandon ?? false;
    for (const l of this.loops) clearTimeout(l.timer);
    await Promise.all(this.loops.map((l) => l.running)); // the store may close next: let a sweep in flight finish first
    this.loops = [];
    await this.o.queue.stop();
    // Only now: while tasks were being handed back, this process was still alive.
    await this.o.liveness?.release();
  }

  // ---- starting -------------------------------------------------------------------------

  async startJob(jobId: number, req: StartRequest): Promise<StartResult> {
    const job = await this.store.jobs.get(jobId);
    if (!job) throw notFound('Job', jobId);
    if (job.serviceId !== APPLICATION_INVENTORY_SERVICE && job.serviceId !== MAINTENANCE_SERVICE) {
      throw badRequest(`Job ${job.name} cannot be started by Census.`);
    }
    const planned = await this.store.transaction(async (r) => {
      const current = await r.jobs.get(jobId);
      if (current?.runningSessionId != null) return this.joinRunning(r, current, req);
      const now = this.now();
      const { tasks, scope } = await this.plan(r, job, req.appserverIds);
      const session = await r.sessions.insert({
        id: now, jobId: job.id, jobName: job.name, type: job.type, subType: job.subType, serviceId: job.serviceId,
        status: 'RUNNING', start: now, end: null, lastUpdate: now, numTasks: tasks.length, percent: 0,
        results: 'Started', trigger: req.trigger, cancelRequested: false, statistics: [], scope,
      });
      await r.events.add(sessionEvent('session.started', session));
      if (!(await r.jobs.claimRun(job.id, session.id))) throw new LostRace();
      const created = await r.tasks.insertMany(tasks.map((t) => ({ ...t, sessionId: session.id })));
      await this.log(r, session, null, message('INFO', 'CNSJ0001', job.name, job.id, session.id, `${req.by} (${req.trigger})`));
      if (job.serviceId === APPLICATION_INVENTORY_SERVICE) {
        await this.log(r, session, null, scope.length
          ? message('INFO', 'CNSJ0002', scope.length, scope.map((s) => s.name).join(', '))
          : message('INFO', 'CNSJ0003'));
      }
      return { session, tasks: created, started: true };
    }).catch(async (err) => {
      if (!(err instanceof LostRace)) throw err;
      // Another request started the job between our read and our claim: join that run.
      const current = await this.store.jobs.get(jobId);
      const running = current?.runningSessionId != null ? await this.store.sessions.get(current.runningSessionId) : undefined;
      if (!running) throw err;
      return { session: running, tasks: [] as Task[], started: false };
    });
    await this.enqueue(planned.session.id, planned.tasks);
    if (planned.started) this.emit('session-started', planned.session);
    return { session: planned.session, started: planned.started };
  }

  /**
   * A start while the job runs starts nothing new. An inventory asked for particular servers
   * (registration, per-server inventory) adds the ones the running session lacks to it.
   */
  private async joinRunning(r: Repositories, job: Job, req: StartRequest) {
    const session = (await r.sessions.get(job.runningSessionId!))!;
    if (!req.appserverIds?.length || job.serviceId !== APPLICATION_INVENTORY_SERVICE || session.cancelRequested) {
      return { session, tasks: [] as Task[], started: false };
    }
    const have = new Set((await r.tasks.bySession(session.id)).map((t) => t.appserverId));
    const add = req.appserverIds.filter((id) => !have.has(id));
    const { tasks, scope } = await this.plan(r, job, add);
    if (!tasks.length) return { session, tasks: [] as Task[], started: false };
    const created = await r.tasks.insertMany(tasks.map((t) => ({ ...t, sessionId: session.id })));
    const numTasks = session.numTasks + created.length;
    const lastUpdate = this.now();
    await r.sessions.update(session.id, { numTasks, lastUpdate });
    await r.events.add(sessionEvent('session.updated', { ...session, numTasks, lastUpdate }));
    for (const s of scope) await this.log(r, session, null, message('INFO', 'CNSJ0006', s.name, req.trigger));
    return { session: { ...session, numTasks }, tasks: created, started: false };
  }

  private async plan(r: Repositories, job: Job, appserverIds?: number[]) {
    const pending = (name: string, appserverId: number | null): Omit<Task, 'id' | 'sessionId'> => ({
      appserverId, name, status: 'PENDING', start: null, end: null, attempts: 0, errorCode: null, message: null,
      owner: null, leaseExpires: null, queuedAt: null,
    });
    if (job.serviceId === MAINTENANCE_SERVICE) return { tasks: [pending('Maintenance', null)], scope: [] as ScopeEntry[] };
    let servers = await r.appservers.all();
    if (appserverIds) servers = servers.filter((s) => appserverIds.includes(s.id));
    return {
      tasks: servers.map((s) => pending(s.name, s.id)),
      scope: servers.map((s): ScopeEntry => ({ resourceType: 'appserver', id: s.id, name: s.name })),
    };
  }

  private async enqueue(sessionId: number, tasks: Pick<Task, 'id'>[]): Promise<void> {
    if (!tasks.length) return this.finishIfDone(sessionId);
    await this.store.tasks.markQueued(tasks.map((t) => t.id), Date.now());
    await this.o.queue.enqueue(tasks.map((t) => ({ taskId: t.id, sessionId })));
  }

  // ---- running --------------------------------------------------------------------------

  /**
   * Runs one task handed over by the queue. The task is claimed with a lease in the store, so a
   * message delivered twice runs once, and a task whose process died is claimed again later.
   */
  private async runTask(qt: QueuedTask, queueSignal: AbortSignal): Promise<void> {
    const session = await this.store.sessions.get(qt.sessionId);
    const task = await this.store.tasks.get(qt.taskId);
    if (!session || !task || task.status !== 'PENDING') return;
    if (session.cancelRequested || !isSessionLive(session.status)) {
      await this.store.transaction((r) => this.moveTask(r, session, task, ['PENDING'], { status: 'CANCELLED', end: this.now(), errorCode: 'CANCELLED' }));
      await this.finishIfDone(session.id);
      return;
    }
    if (task.attempts >= this.o.maxAttempts) return this.giveUp(session, task);
    if (!(await this.claim(task, session, queueSignal))) return;

    const controller = new AbortController();
    const onQueueAbort = () => controller.abort();
    queueSignal.addEventListener('abort', onQueueAbort, { once: true });
    this.mine.set(task.id, { sessionId: session.id, controller });
    const heartbeat = setInterval(() => void this.heartbeat(task.id, session.id, controller), this.o.heartbeatMs);
    heartbeat.unref();
    const running: Task = { ...task, status: 'RUNNING', start: this.now(), attempts: task.attempts + 1, owner: this.owner };
    let outcome: TaskOutcome;
    try {
      outcome = session.serviceId === MAINTENANCE_SERVICE
        ? await runMaintenance(this.maintenanceDeps(session), running, session)
        : await runInventoryTask(this.inventoryDeps(session), running, session.id, controller.signal);
    } catch (err) {
      const reason = `internal error: ${(err as Error).message}`;
      outcome = { status: 'FAILED', errorCode: 'INTERNAL', message: (err as Error).message, commit: (r) => this.log(r, session, task.id, message('ERROR', 'CNSI0102', task.name, reason)) };
    } finally {
      clearInterval(heartbeat);
      queueSignal.removeEventListener('abort', onQueueAbort);
      this.mine.delete(task.id);
    }
    // Stopping (SIGTERM) cut the task short: give it back to be run again at once elsewhere.
    if (this.stopping && queueSignal.aborted && outcome.status === 'CANCELLED') return this.abandoning ? undefined : this.handBack(session, running);
    const { commit, ...result } = outcome;
    const ended = { status: result.status, end: this.now(), errorCode: result.errorCode ?? null, message: result.message ?? null };
    // The task's end, what it found and its last log entries commit together, or not at all.
    const recorded = await this.store.transaction(async (r) => {
      if (!(await r.tasks.finish(task.id, this.owner, ended))) return false;
      await commit?.(r);
      await r.events.add(taskEvent(session.jobId, { ...running, ...ended, owner: null, leaseExpires: null }));
      return true;
    });
    if (!recorded) return; // our claim was lost (lease ran out, or we were taken for dead) and another process took the task over
    this.emit('task-ended', { ...running, ...result });
    await this.finishIfDone(session.id);
  }

  /** A task this stopping process began but will not finish: PENDING again, queued again, logged. */
  private async handBack(session: JobSession, running: Task): Promise<void> {
    const back = await this.store.transaction(async (r) => {
      if (!(await r.tasks.handBack(running.id, this.owner))) return false;
      await r.events.add(taskEvent(session.jobId, { ...running, status: 'PENDING', start: null, attempts: running.attempts - 1, owner: null, leaseExpires: null }));
      await this.log(r, session, running.id, message('WARN', 'CNSJ0013', running.name, this.owner));
      return true;
    });
    if (back) await this.enqueue(session.id, [running]);
  }

  /** Claims a task, waiting for a free slot while the estate-wide limit is reached. */
  private async claim(task: Task, session: JobSession, signal: AbortSignal): Promise<boolean> {
    for (let wait = 100; !signal.aborted; wait = Math.min(wait * 2, 2_000)) {
      const now = Date.now();
      const limit = this.o.estateConcurrency > 0 ? this.o.estateConcurrency : undefined;
      const r = await this.store.transaction(async (tx) => {
        if (limit !== undefined) await tx.lock(4242002);
        const c = await tx.tasks.claim(task.id, this.owner, now, now + this.o.leaseMs, limit);
        if (c.claimed) {
          await tx.events.add(taskEvent(session.jobId, {
            ...task, status: 'RUNNING', start: now, end: null, attempts: task.attempts + 1, owner: this.owner, leaseExpires: now + this.o.leaseMs,
          }));
        }
        return c;
      });
      if (!r.full) return r.claimed;
      await new Promise((resolve) => setTimeout(resolve, wait + Math.random() * wait));
    }
    return false;
  }

  /** Renews this task's lease, and aborts it when its session was cancelled from any process. */
  private async heartbeat(taskId: number, sessionId: number, controller: AbortController): Promise<void> {
    try {
      const held = await this.store.tasks.renew([taskId], this.owner, Date.now() + this.o.leaseMs);
      const s = await this.store.sessions.get(sessionId);
      if (!held.length || !s || s.cancelRequested) controller.abort();
    } catch {
      // The next beat tries again; the lease is long enough to miss a few.
    }
  }

  /** A task whose processes kept dying: fail it rather than take down process after process. */
  private async giveUp(session: JobSession, task: Task): Promise<void> {
    const reason = `gave up after ${task.attempts} attempts: the process running it stopped each time`;
    await this.store.transaction(async (r) => {
      if (await this.moveTask(r, session, task, ['PENDING'], { status: 'FAILED', end: this.now(), errorCode: 'INTERRUPTED', message: reason })) {
        await this.log(r, session, task.id, message('ERROR', 'CNSI0102', task.name, reason));
      }
    });
    await this.finishIfDone(session.id);
  }

  private inventoryDeps(session: JobSession) {
    return {
      store: this.store, clock: this.o.clock, secrets: this.o.secrets, collectors: this.o.collectors,
      timeoutMs: this.o.taskTimeoutMs, retries: this.o.retries, retryDelayMs: this.o.retryDelayMs,
      log: (r: Repositories, t: Task, m: Message) => this.log(r, session, t.id, m),
    };
  }

  private maintenanceDeps(session: JobSession) {
    return {
      store: this.store, clock: this.o.clock, loginIdleMs: this.o.loginIdleMs,
      log: (r: Repositories, t: Task, m: Message) => this.log(r, session, t.id, m),
    };
  }

  /** Updates progress, and closes the session once every task has ended. Safe to call twice. */
  private async finishIfDone(sessionId: number): Promise<void> {
    const closed = await this.store.transaction(async (r) => {
      const s = await r.sessions.get(sessionId);
      if (!s || !isSessionLive(s.status)) return null;
      const counts = await r.tasks.countByStatus(sessionId);
      const count = (st: TaskStatus) => counts[st] ?? 0;
      const total = Object.values(counts).reduce((a, b) => a + b, 0);
      const ended = ENDED_TASK_STATUSES.reduce((n, st) => n + count(st), 0);
      const now = this.now();
      const percent = total ? Math.floor((ended / total) * 100) : 100;
      if (ended < total) {
        if (percent !== s.percent) {
          await r.sessions.update(sessionId, { percent, lastUpdate: now });
          await r.events.add(sessionEvent('session.updated', { ...s, percent, lastUpdate: now }));
        }
        return null;
      }
      const status = sessionOutcome(count('COMPLETED'), count('FAILED'), s.cancelRequested);
      const inventory = s.serviceId === APPLICATION_INVENTORY_SERVICE;
      const statistics: SessionStatistic[] = inventory
        ? [{ resourceType: 'appserver', total, success: count('COMPLETED'), failed: count('FAILED'), skipped: count('CANCELLED') }, ...(await changeStatistics(r, sessionId))]
        : [];
      if (!(await r.sessions.close(sessionId, { status, end: now, lastUpdate: now, percent, results: status, statistics }))) return null;
      if (inventory && count('COMPLETED') > 0) {
        await this.log(r, s, null, message('SUMMARY', 'CNSJ0011', describeChanges(await r.inventory.sessionChanges(sessionId))));
      }
      await this.log(r, s, null, message('SUMMARY', 'CNSJ0010', s.jobName, status, count('COMPLETED'), total,
        count('FAILED'), count('CANCELLED'), ((now - s.start) / 1000).toFixed(1)));
      const closed: JobSession = { ...s, status, end: now, lastUpdate: now, percent, results: status, statistics };
      // In this order in the event stream: the summary log entries, the session's end, the job's new status.
      await r.events.add(sessionEvent('session.ended', closed));
      await r.jobs.finishRun(s.jobId, s.id);
      return closed;
    });
    if (closed) this.emit('session-ended', closed);
  }

  // ---- connection test -----------------------------------------------------------------------

  /** Runs the collector's connection and privilege checks against one server (spec §7.3). */
  async testConnection(appserverId: number, timeoutMs = Math.min(this.o.taskTimeoutMs, 30_000)): Promise<ConnectionCheck[]> {
    const server = await this.store.appservers.get(appserverId);
    if (!server) throw notFound('Application server', appserverId);
    const collector = this.o.collectors.get(server.applicationType);
    if (!collector) {
      return [{ name: 'collector', description: 'Census has a collector for this application type', status: 'FAILED', message: `Census cannot inventory "${server.applicationType}" yet.` }];
    }
    const identity = server.identityId === null ? undefined : await this.store.identities.get(server.identityId);
    if (!identity) return [{ name: 'credentials', description: 'Credentials are attached', status: 'FAILED', message: `No identity is attached to ${server.name}.` }];
    let credentials;
    try {
      credentials = openCredentials(identity, this.o.secrets);
    } catch {
      return [{ name: 'credentials', description: 'Credentials can be decrypted', status: 'FAILED', message: `The stored secret of identity "${identity.name}" cannot be decrypted with this server's key.` }];
    }
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs + 2_000);
    try {
      return await collector.test(
        { name: server.name, host: server.hostAddress, port: server.portNumber, tls: server.tlsMode as TlsMode, ...credentials },
        { signal: controller.signal, timeoutMs },
      );
    } finally {
      clearTimeout(timer);
    }
  }

  // ---- cancel, recovery, waiting -------------------------------------------------------------

  /** Asks a running session to stop: pending tasks are dropped, running ones aborted. */
  async cancelSession(sessionId: number, by: string): Promise<JobSession> {
    const s = await this.store.sessions.get(sessionId);
    if (!s) throw notFound('Job session', sessionId);
    if (!isSessionLive(s.status) || s.cancelRequested) return s;
    await this.store.transaction(async (r) => {
      const lastUpdate = this.now();
      await r.sessions.update(sessionId, { status: 'CANCELLING', cancelRequested: true, lastUpdate });
      await r.events.add(sessionEvent('session.updated', { ...s, status: 'CANCELLING', cancelRequested: true, lastUpdate }));
      for (const t of await r.tasks.bySession(sessionId)) {
        await this.moveTask(r, s, t, ['PENDING'], { status: 'CANCELLED', end: this.now(), errorCode: 'CANCELLED' });
      }
      await this.log(r, s, null, message('WARN', 'CNSJ0004', by));
    });
    this.o.queue.abortSession(sessionId);
    for (const m of this.mine.values()) if (m.sessionId === sessionId) m.controller.abort();
    await this.finishIfDone(sessionId);
    return (await this.store.sessions.get(sessionId))!;
  }

  /**
   * Picks up sessions a previous process left live: their unfinished tasks run again (only
   * those), so a restart never leaves a session RUNNING forever. With `exclusive`, tasks marked
   * RUNNING are orphans now; otherwise they are left to their leases and the sweeper.
   */
  async resume(exclusive: boolean): Promise<number> {
    const live = await this.store.sessions.live();
    for (const s of live) {
      const tasks = await this.store.tasks.bySession(s.id);
      const orphans = exclusive ? tasks.filter((t) => t.status === 'RUNNING') : [];
      for (const t of orphans) {
        await this.store.transaction((r) => this.moveTask(r, s, t, ['RUNNING'], {
          status: s.cancelRequested ? 'CANCELLED' : 'PENDING', owner: null, leaseExpires: null,
          ...(s.cancelRequested ? { end: this.now(), errorCode: 'CANCELLED' } : {}),
        }));
      }
      const unfinished = tasks.filter((t) => !isEnded(t.status)).length;
      if (exclusive) await this.log(this.store, s, null, message('WARN', 'CNSJ0005', s.status.toLowerCase(), unfinished));
      await this.enqueue(s.id, (await this.store.tasks.bySession(s.id)).filter((t) => t.status === 'PENDING'));
      await this.finishIfDone(s.id);
    }
    // A job whose run pointer outlived its session (should not happen, but never leave a job stuck RUNNING).
    for (const job of await this.store.jobs.all()) {
      if (job.runningSessionId === null) continue;
      const s = await this.store.sessions.get(job.runningSessionId);
      if (!s || !isSessionLive(s.status)) await this.store.jobs.finishRun(job.id, job.runningSessionId);
    }
    return live.length;
  }

  /**
   * Looks for lost work, in every process, on every tick: tasks whose owner stopped renewing its
   * lease run again (or end, when their session was cancelled); pending tasks whose queue
   * message may be lost are queued again; sessions whose tasks all ended are closed.
   */
  async sweep(): Promise<void> {
    const now = Date.now();
    const touched = new Set<number>();
    for (const t of await this.store.tasks.expired(now)) {
      if (await this.release(t, { expiredBefore: now })) touched.add(t.sessionId);
    }
    for (const t of await this.store.tasks.pendingQueuedBefore(now - Math.max(2 * this.o.leaseMs, 60_000))) {
      await this.enqueue(t.sessionId, [t]);
    }
    for (const s of await this.store.sessions.live()) if (!touched.has(s.id)) await this.finishIfDone(s.id);
  }

  /**
   * Runs again, at once, the tasks of processes that died (their liveness lock is free), without
   * waiting for their leases: a slow but live process keeps its tasks.
   */
  async reapOrphans(): Promise<void> {
    const liveness = this.o.liveness;
    if (!liveness) return;
    const running = await this.store.tasks.running();
    const owners = [...new Set(running.map((t) => t.owner).filter((o): o is string => o !== null && o !== this.owner))];
    if (!owners.length) return;
    const gone = new Set(await liveness.gone(owners));
    const sessions = new Set<number>();
    for (const t of running) if (t.owner !== null && gone.has(t.owner) && (await this.release(t, { owner: t.owner }))) sessions.add(t.sessionId);
    for (const id of sessions) await this.finishIfDone(id);
  }

  /**
   * Takes a task away from a process that expired or died: queued again, or ended when its
   * session was cancelled meanwhile; logged either way. False when another process did it first.
   */
  private async release(t: Task, when: { expiredBefore: number } | { owner: string }): Promise<boolean> {
    const s = await this.store.sessions.get(t.sessionId);
    if (!s) return false;
    const cancel = s.cancelRequested || !isSessionLive(s.status);
    const patch = cancel ? { status: 'CANCELLED' as const, end: this.now(), errorCode: 'CANCELLED' } : {};
    const ok = await this.store.transaction(async (r) => {
      if (!(await r.tasks.release(t.id, when, patch))) return false;
      await r.events.add(taskEvent(s.jobId, { ...t, status: 'PENDING', ...patch, owner: null, leaseExpires: null }));
      const owner = t.owner ?? 'unknown';
      if ('owner' in when) {
        await this.log(r, s, t.id, message('WARN', cancel ? 'CNSJ0012' : 'CNSJ0009', t.name, owner));
      } else {
        const since = new Date(t.leaseExpires! - this.o.leaseMs).toISOString();
        await this.log(r, s, t.id, message('WARN', cancel ? 'CNSJ0008' : 'CNSJ0007', t.name, owner, since));
      }
      return true;
    });
    if (ok && !cancel) await this.enqueue(s.id, [t]);
    return ok;
  }

  /** Resolves with the session once it has ended; rejects after `timeoutMs`. */
  waitForSession(sessionId: number, timeoutMs = 120_000): Promise<JobSession> {
    return new Promise((resolve, reject) => {
      const onEnd = (s: JobSession) => {
        if (s.id !== sessionId) return;
        cleanup();
        resolve(s);
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`session ${sessionId} did not end within ${timeoutMs} ms`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.off('session-ended', onEnd);
      };
      this.on('session-ended', onEnd);
      void this.store.sessions.get(sessionId).then((s) => {
        if (s && !isSessionLive(s.status)) onEnd(s);
      }, () => {});
    });
  }

  /** Writes a log entry and its event together (in `r`'s transaction, or in one of their own). */
  async log(r: Repositories, s: Pick<JobSession, 'id' | 'jobId'>, taskId: number | null, m: Message): Promise<void> {
    const now = this.now();
    const entry = { id: newLogId(now), sessionId: s.id, jobId: s.jobId, taskId, logTime: now, ...m };
    await r.atomically(async (tx) => {
      await tx.logs.add([entry]);
      await tx.events.add(logEvent(entry));
    });
    this.emit('log', entry);
  }

  /** Moves a task from one status to another with its event; false if it was not in `from`. */
  private async moveTask(r: Repositories, s: Pick<JobSession, 'jobId'>, t: Task, from: TaskStatus[], patch: Partial<Omit<Task, 'id' | 'sessionId'>>): Promise<boolean> {
    if (!(await r.tasks.transition(t.id, from, patch))) return false;
    await r.events.add(taskEvent(s.jobId, { ...t, ...patch }));
    return true;
  }
}

class LostRace extends Error {}

/**
 * The session's change counts as SPP-style statistics entries, one per object type:
 * `total` = objects that changed in any way, plus the counts by kind of change.
 */
async function changeStatistics(r: Repositories, sessionId: number): Promise<SessionStatistic[]> {
  const counts = await r.inventory.changeCounts(sessionId);
  const types = [...new Set(counts.map((c) => c.objectType))].sort();
  return types.map((objectType) => {
    const n = (change: string) => counts.find((c) => c.objectType === objectType && c.change === change)?.n ?? 0;
    const appeared = n('appeared') + n('reappeared');
    return {
      resourceType: objectType, total: appeared + n('disappeared') + n('changed'), success: 0, failed: 0, skipped: 0,
      appeared, disappeared: n('disappeared'), changed: n('changed'),
    };
  });
}
