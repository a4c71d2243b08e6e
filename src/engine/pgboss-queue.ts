/**
 * The queue port on PostgreSQL, through pg-boss: API servers publish task messages, `census
 * worker` processes on any machine take them. pg-boss only carries "run task N"; whether and
 * by whom a task runs is decided by the task's lease in Census's own tables, so a message
 * delivered twice, or re-sent by the sweeper after a worker died, still runs the task once.
 *
 * The messages are written in Census's own transaction (`enqueueWithin`: pg-boss's insert with
 * its `db` option bound to that transaction's connection), so a task and its message commit
 * together: no crash can leave a PENDING task that no message will ever run. That needs pg-boss's
 * schema in the same database as Census's tables (main.ts gives both the same URL).
 *
 * What pg-boss does for us, and what it does not (docs/architecture.md, "Census's lease and
 * pg-boss's"): a handler that fails (the database was unreachable while it read the task) gets
 * the message again after pg-boss's back-off; pg-boss's expiry stays far beyond any task, because
 * it cannot tell a slow task from a dead worker: Census's heartbeat lease does that.
 */
import PgBoss from 'pg-boss';
import type { Repositories } from '../store/index.ts';
import { holdsBack, type LookAhead, type QueuedTask, type TaskHandler, type TaskQueue } from './queue.ts';
import { STORE_CONNECTION_NAMES } from '../core/connection-names.ts';
import { machineBusyShare, type BusyShare } from './host-cpu.ts';

export const TASK_QUEUE = 'census-task';
const DEFAULT_SCHEMA = 'census_queue';
/** Messages one fetch takes at most, ahead of the slots that will run them. */
const PREFETCH = 4;
/** At least this long before its slots are due to free, a worker fetches their next messages… */
const FETCH_LEAD_MS = 20;
/** …and at most this long: what the lead covers (a fetch, the reads after it) does not grow with the task. */
const FETCH_LEAD_MAX_MS = 1_000;
/** Messages held this much longer than the lead go back to the queue (releaseHeld()). */
const HOLD_MARGIN_MS = 200;
/** How long a done message may wait to be marked complete with others. */
const COMPLETE_EVERY_MS = 200;
/**
 * A worker that is not the first on its machine takes a task only while the machine's CPUs are
 * less busy than this… One worker that keeps the cores busy by itself holds the machine at 89–96 %
 * over a half-second window (bench/README.md, scale), so at 90 % about every other window let the
 * later workers take tasks onto full cores (four workers 0.89× one on a fast 2-core VM); at 75 %
 * they take none there (0.97–1.03×) and still take their share where tasks wait on the network
 * and the cores have room (3.40–3.57× one worker with 50 ms of latency each way).
 */
export const SHARED_HOST_CPU = 0.75;
/** …and looks again this often while they are not. */
const SHARED_HOST_WAIT_MS = 100;
/**
 * How much later than the first worker on its machine a later one looks when told of messages:
 * long enough for the first one's fetch (a few ms) to take its share first. Longer gives nothing:
 * the machine's busy share is over the last half second, which a session's first moments hardly
 * move, and each later worker's slots waited as long at the start of every session (a tenth of
 * a second of a 4 s session, bench/README.md, scale).
 */
const FOLLOWER_WAKE_MS = 20;
/**
 * How often idle slots look while the change feed hears (hearWakes()): every message Census puts
 * in the queue is told then (`tell`), so the poll is only a safety net for what no one tells, a
 * message pg-boss sends again after a failed handler's back-off.
 */
const HEARD_POLL_MS = 5_000;
/** The queue of one site's tasks: only workers of that site take from it (docs/sites.md). */
export const siteQueue = (siteId: number) => `census-task-site-${siteId}`;

export interface PgBossQueueOptions {
  connectionString: string;
  /** pg-boss's own schema (default "census_queue"). */
  schema?: string;
  /** Tasks this process runs at once (workers only). */
  concurrency: number;
  /** How often an idle worker looks for messages (pg-boss polls; minimum 0.5 s). */
  pollingIntervalSeconds?: number;
  /** The site whose tasks this process takes, besides tasks for any worker (docs/sites.md). */
  siteId?: number;
  /**
   * While another worker on this machine started before this one (shareHost()), this one takes a
   * task only while the machine's CPUs are less busy than this share (0–1; default
   * SHARED_HOST_CPU; 1: as if it were alone).
   */
  sharedHostCpu?: number;
  /** The machine's CPU busy share (default host-cpu.ts's, from the kernel; tests give their own). */
  busyShare?: BusyShare;
  /**
   * The store's change channel (store/change-feed.ts): each write of messages NOTIFYs `tasks` on
   * it, so that idle workers that hear it fetch at once.
   */
  tell?: string;
  /** How often idle slots look while told of messages (default HEARD_POLL_MS; tests set their own). */
  heardPollMs?: number;
}

type Taken = { queue: string; job: PgBoss.Job<QueuedTask> };

/** Tells the processes listening on the store's change channel that messages are in the queue. */
const TELL_SQL = `SELECT pg_notify($1, 'tasks')`;

export class PgBossQueue implements TaskQueue {
  private readonly boss: PgBoss;
  /** pg-boss's schema (release() writes its job table). */
  private readonly schema: string;
  private running = new Map<string, { task: QueuedTask; controller: AbortController; done: Promise<void>; startedAt: number }>();
  /** How long this process's tasks have taken lately (ms, a moving average); undefined until one ended. */
  private typicalMs: number | undefined;
  /** The fetch ahead of need, waiting for the slots to be nearly due to free (take()). */
  private refill: NodeJS.Timeout | undefined;
  /** Gives the messages held ahead back to the queue when no slot took them in time (releaseHeld()). */
  private holding: NodeJS.Timeout | undefined;
  private started: Promise<void> | undefined;
  private consuming = false;
  /** Queues known to exist (pg-boss 10 needs a queue made before a message goes in). */
  private queues = new Map<string, Promise<void>>();
  private slots: Promise<void>[] = [];
  /** Messages fetched ahead of the slots (take()), and the fetch under way. */
  private ahead: Taken[] = [];
  private fetching: Promise<boolean> | undefined;
  /** The last fetch got all it asked for: the queue may hold more. */
  private more = false;
  /** Messages done but not yet marked so, by queue (completed()). */
  private toComplete = new Map<string, string[]>();
  private completing: NodeJS.Timeout | undefined;
  /** Wakes idle slots at once (stop, wakeIdle). */
  private wake = new Set<() => void>();
  /** The idle slots' next look at the queue (slot()). */
  private polling: NodeJS.Timeout | undefined;
  private pollingDue = 0;
  private lookAhead: LookAhead | undefined;
  /** Another worker runs on this machine, started before this one (shareHost()). */
  private follower = false;
  private busyShare: BusyShare | undefined;
  readonly sharedHostCpu: number;
  /** Whether this process hears other processes' `tasks` (hearWakes()). */
  private hearing: () => boolean = () => false;
  /** Tells heard so far (wakeIdle()): a slot whose fetch found nothing looks again if one came meanwhile. */
  private told = 0;
  readonly bySite = true;

  constructor(private readonly o: PgBossQueueOptions) {
    this.schema = o.schema ?? DEFAULT_SCHEMA;
    this.sharedHostCpu = o.sharedHostCpu ?? SHARED_HOST_CPU;
    this.boss = new PgBoss({
      connectionString: o.connectionString,
      schema: this.schema,
      max: Math.max(2, Math.min(o.concurrency + 1, 10)),
      // Census schedules its own jobs and keeps its own state; pg-boss only moves messages.
      schedule: false,
      supervise: true,
      application_name: STORE_CONNECTION_NAMES.queue,
    });
    this.boss.on('error', (err: Error) => console.error(`census: queue error: ${err.message}`));
  }

  /** Connects, installs or migrates pg-boss's schema, and creates the task queue. */
  private ready(): Promise<void> {
    this.started ??= (async () => {
      await this.boss.start();
      await this.queue(TASK_QUEUE);
    })();
    return this.started;
  }

  /**
   * Makes a queue unless it exists. On pg-boss's own connection, never in a Census transaction:
   * making one attaches a partition to pg-boss's job table. Two processes making the same queue
   * at once is harmless: the second finds it made, or, when PostgreSQL chose it as a deadlock's
   * victim before the other's transaction committed, tries again a moment later.
   */
  private queue(name: string): Promise<void> {
    let made = this.queues.get(name);
    if (!made) {
      made = (async () => {
        for (let attempt = 1; ; attempt++) {
          if (await this.boss.getQueue(name)) return;
          try {
            // Retries are set on each message (below), so queues made by older versions get them too.
            // Expiry: far beyond any task; keep finished messages an hour.
            await this.boss.createQueue(name, { name, retryLimit: 0, expireInSeconds: 6 * 3600, retentionMinutes: 60 });
            return;
          } catch (err) {
            if (await this.boss.getQueue(name)) return;
            if (attempt >= 5) throw err;
            await new Promise((resolve) => setTimeout(resolve, 50 * attempt));
          }
        }
      })();
      made.catch(() => this.queues.delete(name));
      this.queues.set(name, made);
    }
    return made;
  }

  /** Messages by the queue they go to, each queue made first. */
  private async byQueue(tasks: QueuedTask[]): Promise<Map<string, QueuedTask[]>> {
    await this.ready();
    const out = new Map<string, QueuedTask[]>();
    for (const t of tasks) {
      const name = t.siteId === undefined ? TASK_QUEUE : siteQueue(t.siteId);
      out.set(name, [...(out.get(name) ?? []), t]);
    }
    for (const name of out.keys()) await this.queue(name);
    return out;
  }

  /**
   * One message per task. A handler that throws (it could not reach the database) is retried by
   * pg-boss, 1 s, 2 s, 4 s … later, rather than left to the sweeper's minute; running a message
   * again is harmless, since only the task's claim decides whether it runs.
   */
  private messages(name: string, tasks: QueuedTask[]): PgBoss.JobInsert<QueuedTask>[] {
    return tasks.map((t) => ({ name, data: t, retryLimit: 5, retryDelay: 1, retryBackoff: true }));
  }

  async enqueue(tasks: QueuedTask[]): Promise<void> {
    if (!tasks.length) return;
    for (const [name, some] of await this.byQueue(tasks)) await this.boss.insert(this.messages(name, some));
    if (this.o.tell) await this.boss.getDb().executeSql(TELL_SQL, [this.o.tell]);
  }

  async enqueueWithin(tx: Repositories, tasks: QueuedTask[]): Promise<void> {
    if (!tasks.length) return;
    // pg-boss's schema and queues must exist before its insert runs in our transaction (made once per process).
    for (const [name, some] of await this.byQueue(tasks)) {
      await this.boss.insert(this.messages(name, some), { db: { executeSql: (text, values) => tx.executeSql(text, values) } });
    }
    // Heard at COMMIT, when the messages can be fetched; never for a rollback.
    if (this.o.tell) await tx.executeSql(TELL_SQL, [this.o.tell]);
  }

  /**
   * While `hearing()` says so, this process hears every message any process puts in the queue
   * (wakeIdle() at each `tasks`), and its idle slots poll only every HEARD_POLL_MS.
   */
  hearWakes(hearing: () => boolean): void {
    this.hearing = hearing;
  }

  start(handler: TaskHandler, lookAhead?: LookAhead): void {
    this.consuming = true;
    this.lookAhead = lookAhead;
    // This process's site first, then tasks for any worker.
    const queues = this.o.siteId === undefined ? [TASK_QUEUE] : [siteQueue(this.o.siteId), TASK_QUEUE];
    void this.ready().then(async () => {
      for (const q of queues) await this.queue(q);
      // One loop per slot, each taking one message at a time: a slow task never holds up the others.
      for (let i = 0; i < this.o.concurrency && this.consuming; i++) this.slots.push(this.slot(queues, handler));
    }, (err: Error) => console.error(`census: cannot start the task queue: ${err.message}`));
  }

  /**
   * One slot: takes the next message from the first of `queues` that has one, runs it, and asks
   * again at once; waits the polling interval when all are empty. (pg-boss's work() polls one
   * queue; a worker takes from two, its site's and the one for any worker.) A handler that
   * throws fails the message: pg-boss sends it again after its back-off.
   */
  private async slot(queues: string[], handler: TaskHandler): Promise<void> {
    const pollMs = Math.max(500, (this.o.pollingIntervalSeconds ?? 0.5) * 1000);
    const heardPollMs = Math.max(pollMs, this.o.heardPollMs ?? HEARD_POLL_MS);
    while (this.consuming) {
      let found: Taken | 'busy' | undefined;
      const told = this.told;
      try {
        found = await this.take(queues);
      } catch (err) {
        console.error(`census: cannot take tasks from the queue: ${(err as Error).message}`);
      }
      // A tell heard while this fetch ran may be of a message it came too early to see; the slot
      // was not napping, so only looking again now keeps it from waiting out the safety-net poll.
      if (!found && this.told !== told) continue;
      if (!found || found === 'busy') {
        // A worker that shares its machine looks again soon (the machine's CPUs are busy, the
        // queue may not be empty); one with an empty queue after the polling interval.
        await this.nap(found === 'busy' ? SHARED_HOST_WAIT_MS : this.hearing() ? heardPollMs : pollMs);
        continue;
      }
      const { queue, job } = found;
      const controller = new AbortController();
      const startedAt = performance.now();
      const run = handler(job.data, controller.signal);
      this.running.set(job.id, { task: job.data, controller, done: run.then(() => {}, () => {}), startedAt });
      try {
        await run;
        this.completed(queue, job.id);
        const took = performance.now() - startedAt;
        this.typicalMs = this.typicalMs === undefined ? took : 0.8 * this.typicalMs + 0.2 * took;
      } catch (err) {
        console.error(`census: task ${job.data.taskId} handler failed: ${(err as Error).message}`);
        await this.boss.fail(queue, job.id, { message: (err as Error).message }).catch(() => {});
      } finally {
        this.running.delete(job.id);
      }
    }
  }

  /**
   * The next message for a slot: from the messages this process took ahead, or from a fetch of
   * up to PREFETCH (one fetch at a time, shared by the slots waiting on it). A fetch per task
   * was the costliest statement of a large session: pg-boss's fetch walks the queue's index past
   * the entries of messages already taken. Undefined when the queues are empty.
   */
  private async take(queues: string[]): Promise<Taken | 'busy' | undefined> {
    for (;;) {
      const ahead = this.ahead.shift();
      if (ahead) {
        if (!this.ahead.length) {
          // Nothing is held any more; and the last one taken ahead: fetch the next ones before the
          // slots free (fetchBeforeDue), not when they do. Slots whose tasks take as long free
          // together, and each would wait for the fetch and then for its task's reads (lookAhead);
          // now both are done by then.
          clearTimeout(this.holding);
          if (this.more) this.fetchBeforeDue(queues);
        }
        return ahead;
      }
      if (!this.mayFetch()) return 'busy';
      const full = await this.fetchOnce(queues);
      // Others waiting on the same fetch may have taken all it brought: fetch again if the
      // queue may hold more, else the queues are empty for now.
      if (!this.ahead.length && !full) return undefined;
    }
  }

  /**
   * Fetches ahead of need a little before the first running task is due to end, by the tasks'
   * recent times; not before one has ended (nothing tells when a slot will free). Messages fetched
   * ahead wait in this process until one of its slots frees, while another worker's idle slot
   * cannot take them: fetched just in time, they wait for tens of milliseconds, not for a whole
   * task, and a task that runs far past its time does not keep them (releaseHeld()). A slot that
   * frees first fetches for itself (take()), and the timer then finds nothing to do.
   */
  private fetchBeforeDue(queues: string[]): void {
    const typical = this.typicalMs;
    if (this.refill || typical === undefined) return;
    const fetch = () => {
      this.refill = undefined;
      if (!this.consuming || this.ahead.length || this.fetching || !this.mayFetch()) return;
      void this.fetchOnce(queues).catch((err: Error) => console.error(`census: cannot take tasks from the queue: ${err.message}`));
    };
    const now = performance.now();
    const firstDue = Math.min(now, ...[...this.running.values()].map((r) => r.startedAt)) + typical;
    const wait = firstDue - now - this.lead();
    if (wait <= 0) return fetch();
    this.refill = setTimeout(fetch, wait);
    this.refill.unref();
  }

  /** How long before its slots are due a worker fetches: what a fetch and the reads after it take, on a busy machine too. */
  private lead(): number {
    return Math.min(FETCH_LEAD_MAX_MS, Math.max(FETCH_LEAD_MS, (this.typicalMs ?? 0) / 4));
  }

  /** The fetch under way, or a new one: one at a time, shared by every slot that waits for it. */
  private fetchOnce(queues: string[]): Promise<boolean> {
    return (this.fetching ??= this.fetchAhead(queues).finally(() => (this.fetching = undefined)));
  }

  /**
   * Fetches up to PREFETCH messages from the first of `queues` that has any; says whether it got
   * all it asked for (and remembers it: a queue that gave less is not fetched from ahead of need).
   */
  private async fetchAhead(queues: string[]): Promise<boolean> {
    this.more = false;
    const want = Math.min(PREFETCH, this.o.concurrency);
    for (const queue of queues) {
      const jobs = await this.boss.fetch<QueuedTask>(queue, { batchSize: want });
      if (!jobs.length) continue;
      // Not consuming any more (stop() came meanwhile): hand them back at once.
      if (!this.consuming) {
        await this.release(queue, jobs.map((j) => j.id));
        return false;
      }
      this.ahead.push(...jobs.map((job) => ({ queue, job })));
      clearTimeout(this.holding);
      this.holding = setTimeout(() => void this.releaseHeld(), 2 * this.lead() + HOLD_MARGIN_MS);
      this.holding.unref();
      // What a task needs before its claim is read now, for each: the one that waits for a slot
      // to free is ready when it frees (and the slots waiting on this fetch lose nothing).
      for (const job of jobs) this.lookAhead?.(job.data);
      this.more = jobs.length === want;
      return this.more;
    }
    return false;
  }

  /**
   * Gives the messages still held ahead back to the queue: this process's slots did not free in
   * time (a task ran far past its time, or a fetch brought more than the slots that waited), and
   * another worker's idle slot may take them now. Also at stop().
   */
  private async releaseHeld(): Promise<void> {
    clearTimeout(this.holding);
    const held = this.ahead.splice(0);
    const byQueue = new Map<string, string[]>();
    for (const { queue, job } of held) byQueue.set(queue, [...(byQueue.get(queue) ?? []), job.id]);
    for (const [queue, ids] of byQueue) await this.release(queue, ids);
  }

  /**
   * Puts fetched messages back as if never fetched: waiting, ready for any worker now. pg-boss 10
   * has no call for it (fail() would spend one of the message's retries and wait out its back-off),
   * so this undoes its fetch on its own table: the fetch set state and started_on, nothing else.
   */
  private async release(queue: string, ids: string[]): Promise<void> {
    const update = `UPDATE ${this.schema}.job SET state = 'created', started_on = NULL WHERE name = $1 AND id = ANY($2::uuid[]) AND state = 'active'`;
    await this.boss
      .getDb()
      .executeSql(
        // Told in the same statement (idle workers elsewhere take them at once), when any came back.
        this.o.tell ? `WITH back AS (${update} RETURNING 1) SELECT pg_notify($3, 'tasks') FROM (SELECT 1 FROM back LIMIT 1) one` : update,
        this.o.tell ? [queue, ids, this.o.tell] : [queue, ids],
      )
      .catch((err: Error) => console.error(`census: cannot give messages back to the queue: ${err.message}`));
  }

  /**
   * Marks a message done, with the others that ended within COMPLETE_EVERY_MS: one statement
   * for many, not one a task. Nothing waits on it (whether a task runs is decided by its claim),
   * and a message left active by a process that died is only kept until its expiry.
   */
  private completed(queue: string, id: string): void {
    const ids = this.toComplete.get(queue) ?? [];
    ids.push(id);
    this.toComplete.set(queue, ids);
    if (!this.completing) {
      this.completing = setTimeout(() => void this.completeNow(), COMPLETE_EVERY_MS);
      this.completing.unref();
    }
  }

  private async completeNow(): Promise<void> {
    clearTimeout(this.completing);
    this.completing = undefined;
    const all = [...this.toComplete];
    this.toComplete.clear();
    for (const [queue, ids] of all) await this.boss.complete(queue, ids).catch(() => {});
  }

  abortSession(sessionId: number): void {
    for (const r of this.running.values()) if (r.task.sessionId === sessionId) r.controller.abort();
  }

  /**
   * Waits until wakeIdle(), which runs within `ms`. One timer for all of this process's idle
   * slots: they look together, in one shared fetch (fetchOnce). Each on a clock of its own, slots
   * that went idle at different moments (a session's last tasks ending apart) fetched once each
   * a polling interval. A slot that must look sooner brings the timer forward for all of them.
   */
  private nap(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        this.wake.delete(done);
        resolve();
      };
      this.wake.add(done);
      this.wakeWithin(ms);
    });
  }

  /** Has the idle slots look within `ms` (sooner if already due sooner). */
  private wakeWithin(ms: number): void {
    const due = performance.now() + ms;
    if (this.polling && this.pollingDue <= due) return;
    clearTimeout(this.polling);
    this.pollingDue = due;
    this.polling = setTimeout(() => this.wakeNow(), ms);
  }

  /**
   * Idle slots fetch now (messages were put in the queue: queue.ts, wakeOnTasks): a session's
   * first tasks do not wait out the polling interval. A worker that shares its machine with an
   * earlier one looks a moment later, once that one has taken its share and the machine's CPUs
   * say whether there is room for more.
   */
  wakeIdle(): void {
    this.told++;
    if (this.follower && this.consuming) this.wakeWithin(FOLLOWER_WAKE_MS);
    else this.wakeNow();
  }

  private wakeNow(): void {
    clearTimeout(this.polling);
    this.polling = undefined;
    for (const wake of [...this.wake]) wake();
  }

  /**
   * Whether another worker on this machine started before this one. On one machine, workers
   * share its cores: one already keeps them busy, and each added process brings its own CPU
   * for the same tasks (bench/README.md, scale). So the first worker takes tasks as its slots
   * allow, and a later one only while the machine's CPUs are not all busy.
   */
  shareHost(follower: boolean): void {
    this.follower = follower && holdsBack(this);
    if (this.follower) this.busyShare ??= this.o.busyShare ?? machineBusyShare();
  }

  /** Whether this process may fetch messages now: the first worker on its machine always, a later one while the machine's CPUs have room. */
  private mayFetch(): boolean {
    return !this.follower || this.busyShare!() < this.sharedHostCpu;
  }

  /** Slots waiting out the polling interval. */
  get idleSlots(): number {
    return this.wake.size;
  }

  async stop(): Promise<void> {
    this.consuming = false;
    clearTimeout(this.refill);
    clearTimeout(this.holding);
    if (!this.started) return;
    await this.started.catch(() => {});
    this.wakeNow();
    for (const r of this.running.values()) r.controller.abort();
    await Promise.allSettled([...this.running.values()].map((r) => r.done));
    await Promise.allSettled(this.slots);
    this.slots = [];
    await this.fetching?.catch(() => {});
    await this.releaseHeld();
    await this.completeNow();
    await this.boss.stop({ graceful: false, wait: true, close: true }).catch(() => {});
  }
}
