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

/** How a session ends, from how many of its tasks completed and failed. */
export function sessionOutcome(completed: number, failed: number, cancelRequested: boolean): SessionStatus {
  if (cancelRequested) return 'CANCELLED';
  if (failed === 0) return 'COMPLETED';
  if (completed === 0) return 'FAILED';
  return 'PARTIAL';
}

/** The job's state as clients see it, derived from its stored facts. */
export function jobStatus(runningSessionId: number | null, held: boolean): JobStatus {
  if (runningSessionId !== null) return 'RUNNING';
  return held ? 'HELD' : 'IDLE';
}
