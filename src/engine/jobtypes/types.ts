/**
 * What a job type is to the engine. The engine knows sessions, tasks, claims and leases; a job
 * type knows what its session is about: which tasks a start plans, how one task runs, what the
 * session's end reports. Adding a type means writing one of these and registering it
 * (jobtypes/index.ts); the engine does not change.
 */
import type { Clock } from '../../core/clock.ts';
import type { SessionProgress } from '../../core/status.ts';
import type { Job, SessionState, ScopeEntry, SessionStatistic, Task } from '../../core/types.ts';
import type { Repositories, Store } from '../../store/index.ts';
import type { Message } from '../messages.ts';

export interface StartRequest {
  /** Who asked: a user name, "scheduler", … (logged). */
  by: string;
  /** Why: "manual", "schedule", "registration", "appserver", "first-start". */
  trigger: string;
  /** Only these application servers (job types that fan out over servers; default: all). */
  appserverIds?: number[];
}

/** One task a plan asks for: what it works on (see Task.targetKind) and its name in the session. */
export interface PlannedTask {
  name: string;
  targetKind: string;
  targetId?: string | null;
  payload?: unknown;
}

export interface Plan {
  tasks: PlannedTask[];
  /** What the session covers, as SPP's policySnapshot lists it (default: nothing). */
  scope?: ScopeEntry[];
  /** Log entries written after the session's start entry, or after tasks joined a running session. */
  messages?: Message[];
}

/** One task, running: everything its job type gets from the engine. */
export interface TaskRun {
  /** The task as claimed (RUNNING, its attempt counted). */
  task: Task;
  session: SessionState;
  /** Aborted on cancel, on a lost claim, and when the process stops. */
  signal: AbortSignal;
  store: Store;
  clock: Clock;
  /** Writes one of this task's log entries (in `r`'s transaction, or in one of its own). */
  log(r: Repositories, m: Message): Promise<void>;
  /** What the job type's prepare() returned as `state`, if it has one. */
  prepared?: unknown;
}

/** A task about to be claimed: what prepare() may read (the task is still PENDING). */
export type TaskToPrepare = Pick<TaskRun, 'task' | 'session' | 'store' | 'clock'>;

export interface Prepared {
  /** The task's first log entry, written in the claim's transaction. */
  start?: Message;
  /** Handed to run() as `t.prepared`. */
  state?: unknown;
}

export interface TaskOutcome {
  status: 'COMPLETED' | 'FAILED' | 'CANCELLED';
  errorCode?: string;
  message?: string;
  /**
   * What the task found and its last log entries, written by the engine in the same transaction
   * as the task's end: a process killed in between leaves neither (the task runs again, once),
   * and a process that lost its claim meanwhile records nothing (the transaction runs `commit`
   * and then rolls back: what it does outside `r` should be a hint only).
   */
  commit?: (r: Repositories) => Promise<void>;
}

/** What a session's end reports beyond its status (which core/status.ts decides). */
export interface Summary {
  statistics?: SessionStatistic[];
  /** SUMMARY log entries written before the engine's closing entry. */
  messages?: Message[];
}

export interface JobType {
  /** The jobs this type runs, by their serviceId (SPP's name for what a job does). */
  readonly serviceId: string;
  /** The tasks of a new session. Runs inside the start's transaction. */
  plan(r: Repositories, job: Job, req: StartRequest): Promise<Plan>;
  /**
   * A start while a session of the job runs: tasks to add to that session. Without it (or with
   * no tasks) the start simply joins the run.
   */
  join?(r: Repositories, job: Job, running: SessionState, req: StartRequest): Promise<Plan>;
  /**
   * Optional: reads what a task needs before the engine claims it, so that the task's start entry
   * commits with the claim (one transaction fewer a task). It must write nothing: the claim may
   * still be lost to another process.
   */
  prepare?(t: TaskToPrepare): Promise<Prepared>;
  run(t: TaskRun): Promise<TaskOutcome>;
  /** Called when every task has ended, in the transaction that closes the session. */
  summarise?(r: Repositories, session: SessionState, progress: SessionProgress): Promise<Summary>;
}
