/**
 * Job states and session results, kept apart as DESIGN.md asks: a job is IDLE/RUNNING/HELD,
 * a job session ends COMPLETED/PARTIAL/FAILED/CANCELLED. This module is the one place that
 * decides how a run ends; API, UI and CLI only read what it decided.
 */

export type JobStatus = 'IDLE' | 'RUNNING' | 'HELD';

export type SessionStatus = 'RUNNING' | 'CANCELLING' | 'COMPLETED' | 'PARTIAL' | 'FAILED' | 'CANCELLED';

export type TaskStatus = 'PENDING' | 'RUNNING' | 'COMPLETED' | 'FAILED' | 'CANCELLED';

export type LogType = 'INFO' | 'WARN' | 'ERROR' | 'SUMMARY' | 'DEBUG' | 'DETAIL';
export const LOG_TYPES: readonly LogType[] = ['INFO', 'WARN', 'ERROR', 'SUMMARY', 'DEBUG', 'DETAIL'];

export const LIVE_SESSION_STATUSES: readonly SessionStatus[] = ['RUNNING', 'CANCELLING'];
export const ENDED_SESSION_STATUSES: readonly SessionStatus[] = ['COMPLETED', 'PARTIAL', 'FAILED', 'CANCELLED'];
export const ENDED_TASK_STATUSES: readonly TaskStatus[] = ['COMPLETED', 'FAILED', 'CANCELLED'];
/** A task in one of these has not ended yet: its session cannot close while one is left. */
export const OPEN_TASK_STATUSES: readonly TaskStatus[] = ['PENDING', 'RUNNING'];

export const isSessionLive = (s: string): boolean => (LIVE_SESSION_STATUSES as readonly string[]).includes(s);

/** "RESOURCE ACTIVE" → "Resource active", "PARTIAL" → "Partial": SPP's display names. */
export function displayName(status: string | null | undefined): string | null {
  if (!status) return null;
  const lower = status.toLowerCase();
  return lower.charAt(0).toUpperCase() + lower.slice(1);
}

/**
 * SPP spells cancelled both ways across releases; we emit the double-L form and accept either
 * in filters (docs/compat.md).
 */
export function normalizeStatusWord(value: string): string {
  const upper = value.toUpperCase();
  if (upper === 'CANCELED') return 'CANCELLED';
  if (upper === 'CANCELING') return 'CANCELLING';
  return upper;
}

/** Pseudo values of the `status` filter on job sessions, as SPP's own job links use them. */
export const PSEUDO_SESSION_STATUS: Record<string, readonly SessionStatus[]> = {
  live: LIVE_SESSION_STATUSES,
  active: LIVE_SESSION_STATUSES,
  pending: [],
  history: ENDED_SESSION_STATUSES,
};

// ---- the state machine -----------------------------------------------------------------------

/**
 * Where each status may go next. The store's guarded updates (claim, finish, release, close) and
 * the engine's moves follow these; a move not listed here is a bug, not a race.
 */
export const JOB_MOVES: Readonly<Record<JobStatus, readonly JobStatus[]>> = {
  IDLE: ['RUNNING', 'HELD'],
  HELD: ['RUNNING', 'IDLE'], // a held job still starts on demand; only its schedule is paused
  RUNNING: ['IDLE', 'HELD'],
};

export const SESSION_MOVES: Readonly<Record<SessionStatus, readonly SessionStatus[]>> = {
  RUNNING: ['CANCELLING', 'COMPLETED', 'PARTIAL', 'FAILED', 'CANCELLED'],
  CANCELLING: ['CANCELLED'],
  COMPLETED: [],
  PARTIAL: [],
  FAILED: [],
  CANCELLED: [],
};

export const TASK_MOVES: Readonly<Record<TaskStatus, readonly TaskStatus[]>> = {
  PENDING: ['RUNNING', 'CANCELLED', 'FAILED'], // claimed; dropped by a cancel; given up after repeated crashes
  RUNNING: ['PENDING', 'COMPLETED', 'FAILED', 'CANCELLED'], // handed back or taken from a dead process; or ends
  COMPLETED: [],
  FAILED: [],
  CANCELLED: [],
};

export function canMoveJob(from: JobStatus, to: JobStatus): boolean {
  return JOB_MOVES[from].includes(to);
}

export function canMoveSession(from: SessionStatus, to: SessionStatus): boolean {
  return SESSION_MOVES[from].includes(to);
}

export function canMoveTask(from: TaskStatus, to: TaskStatus): boolean {
  return TASK_MOVES[from].includes(to);
}

/** The task statuses a task may be moved to `to` from (the guard of a store update). */
export function taskStatusesBefore(to: TaskStatus): TaskStatus[] {
  return (Object.keys(TASK_MOVES) as TaskStatus[]).filter((from) => canMoveTask(from, to));
}

export const isTaskEnded = (s: string): boolean => (ENDED_TASK_STATUSES as readonly string[]).includes(s);

/** A cancel is taken only by a live session not already cancelling. */
export function canCancelSession(s: { status: string; cancelRequested: boolean }): boolean {
  return isSessionLive(s.status) && !s.cancelRequested && canMoveSession(s.status as SessionStatus, 'CANCELLING');
}

/** How a session ends, from how many of its tasks completed and failed. */
export function sessionOutcome(completed: number, failed: number, cancelRequested: boolean): SessionStatus {
  if (cancelRequested) return 'CANCELLED';
  if (failed === 0) return 'COMPLETED';
  if (completed === 0) return 'FAILED';
  return 'PARTIAL';
}

/** A session's tasks counted by status: how far it got, and how it ends once every task has. */
export interface SessionProgress {
  total: number;
  completed: number;
  failed: number;
  cancelled: number;
  ended: number;
  /** Whole percent of tasks that ended; 100 for a session without tasks. */
  percent: number;
  /** The session's end status once every task ended; null while some still run. */
  outcome: SessionStatus | null;
}

export function sessionProgress(counts: Partial<Record<TaskStatus, number>>, cancelRequested: boolean): SessionProgress {
  const count = (st: TaskStatus) => counts[st] ?? 0;
  const total = Object.values(counts).reduce((a, b) => a + (b ?? 0), 0);
  const ended = ENDED_TASK_STATUSES.reduce((n, st) => n + count(st), 0);
  const completed = count('COMPLETED');
  const failed = count('FAILED');
  return {
    total, completed, failed, cancelled: count('CANCELLED'), ended,
    percent: total ? Math.floor((ended / total) * 100) : 100,
    outcome: ended < total ? null : sessionOutcome(completed, failed, cancelRequested),
  };
}

/** The job's state as clients see it, derived from its stored facts. */
export function jobStatus(runningSessionId: number | null, held: boolean): JobStatus {
  if (runningSessionId !== null) return 'RUNNING';
  return held ? 'HELD' : 'IDLE';
}
