/**
 * What the engine's parts share: the store, clock and queue, the registered job types, the
 * timing settings, and this process's own state (its name as task owner, whether it is stopping,
 * the tasks it runs now). engine.ts makes one and hands it to each part.
 */
import type { Clock } from '../core/clock.ts';
import type { SessionState, Task } from '../core/types.ts';
import type { Store } from '../store/index.ts';
import type { JobTypes, Prepared } from './jobtypes/index.ts';
import type { ProcessLiveness } from './process-lock.ts';
import type { TaskQueue } from './queue.ts';

export interface EngineSettings {
  /** How long a claim on a running task holds without renewal. */
  leaseMs: number;
  /** How often running tasks renew their lease and look for a cancel. */
  heartbeatMs: number;
  /** Attempts a task gets when the processes running it keep dying. */
  maxAttempts: number;
  /** Tasks running at once across every process sharing the database (0: no limit). */
  estateConcurrency: number;
  /** How often a running session's percent is counted again as its tasks end (0: at every end). */
  progressIntervalMs: number;
}

export interface EngineEvents {
  'session-started': SessionState;
  'session-ended': SessionState;
}

/** What a task needs before its claim: the task and its session, and what its job type prepared (when read). */
export interface BeforeClaim {
  found: { task: Task; session: SessionState } | undefined;
  prepared: Prepared;
  at: number;
}

export interface EngineContext {
  store: Store;
  clock: Clock;
  queue: TaskQueue;
  jobTypes: JobTypes;
  settings: EngineSettings;
  liveness: ProcessLiveness | undefined;
  state: {
    /** This process as a task owner: its name, plus its liveness lock's tag once it holds one. */
    owner: string;
    stopping: boolean;
    /** Stopping as a killed process would: record nothing, leave tasks to their leases. */
    abandoning: boolean;
    /**
     * The store's `jobs` generation when the sweep last found no live session (recovery.ts,
     * quiet()): until it moves, there is no lost work to look for.
     */
    noLiveSessionsAt?: number;
  };
  /** Tasks this process runs now, with the controller that aborts each. */
  mine: Map<number, { sessionId: number; controller: AbortController }>;
  /** Reads ahead for tasks the queue holds until a slot frees, by task id (task-runner.ts, lookAhead). */
  looks: Map<number, Promise<BeforeClaim | undefined>>;
  /**
   * Ends of tasks still committing after their slot went on to its next task (task-runner.ts,
   * runTask); stop() waits for them.
   */
  ending: Set<Promise<void>>;
  /** Sessions whose progress this process is counting now (session-progress.ts, progressAfter). */
  counting: Map<number, { again: boolean; done: Promise<void> }>;
  /** When this process last counted a live session's progress, and the count it owes it (progressAfter). */
  counted: Map<number, { at: number; timer?: NodeJS.Timeout }>;
  emit<K extends keyof EngineEvents>(event: K, value: EngineEvents[K]): void;
}
