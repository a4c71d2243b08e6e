import { describe, expect, it } from 'vitest';
import {
  canCancelSession, canMoveJob, canMoveSession, canMoveTask, displayName, ENDED_SESSION_STATUSES, ENDED_TASK_STATUSES, jobStatus,
  normalizeStatusWord, sessionOutcome, sessionProgress, taskStatusesBefore, type SessionStatus, type TaskStatus,
} from './status.ts';

describe('statuses', () => {
  it('ends a session from its task outcomes', () => {
    expect(sessionOutcome(3, 0, false)).toBe('COMPLETED');
    expect(sessionOutcome(0, 0, false)).toBe('COMPLETED'); // nothing to do is done
    expect(sessionOutcome(2, 1, false)).toBe('PARTIAL');
    expect(sessionOutcome(0, 2, false)).toBe('FAILED');
    expect(sessionOutcome(2, 1, true)).toBe('CANCELLED');
  });
  it('derives the job state', () => {
    expect(jobStatus(123, true)).toBe('RUNNING');
    expect(jobStatus(null, true)).toBe('HELD');
    expect(jobStatus(null, false)).toBe('IDLE');
  });
  it('writes SPP display names and accepts both spellings of cancelled', () => {
    expect(displayName('RESOURCE ACTIVE')).toBe('Resource active');
    expect(displayName(null)).toBeNull();
    expect(normalizeStatusWord('canceled')).toBe('CANCELLED');
    expect(normalizeStatusWord('CANCELING')).toBe('CANCELLING');
  });
});

describe('session progress', () => {
  it('counts a session still running, with whole percents', () => {
    expect(sessionProgress({ COMPLETED: 1, RUNNING: 1, PENDING: 1 }, false)).toEqual({
      total: 3, completed: 1, failed: 0, cancelled: 0, ended: 1, percent: 33, outcome: null,
    });
  });
  it('ends it once every task ended, by the same rule as sessionOutcome', () => {
    expect(sessionProgress({ COMPLETED: 2, FAILED: 1 }, false)).toMatchObject({ ended: 3, percent: 100, outcome: 'PARTIAL' });
    expect(sessionProgress({ FAILED: 2 }, false).outcome).toBe('FAILED');
    expect(sessionProgress({ COMPLETED: 1, CANCELLED: 2 }, true)).toMatchObject({ cancelled: 2, outcome: 'CANCELLED' });
    // Cancelled tasks of a session nobody cancelled (a dead process's, after a cancel elsewhere) fail nothing.
    expect(sessionProgress({ COMPLETED: 1, CANCELLED: 1 }, false).outcome).toBe('COMPLETED');
  });
  it('ends a session without tasks at once, COMPLETED at 100 %', () => {
    expect(sessionProgress({}, false)).toEqual({ total: 0, completed: 0, failed: 0, cancelled: 0, ended: 0, percent: 100, outcome: 'COMPLETED' });
  });
});

describe('the state machine', () => {
  it('lets a job run from IDLE or HELD, and hold or release whatever it does', () => {
    expect(canMoveJob('IDLE', 'RUNNING')).toBe(true);
    expect(canMoveJob('HELD', 'RUNNING')).toBe(true);
    expect(canMoveJob('RUNNING', 'HELD')).toBe(true);
    expect(canMoveJob('IDLE', 'HELD') && canMoveJob('HELD', 'IDLE')).toBe(true);
    expect(canMoveJob('RUNNING', 'RUNNING')).toBe(false);
  });
  it('moves a session only forward: RUNNING → CANCELLING → CANCELLED, or straight to its end; ended is final', () => {
    expect(canMoveSession('RUNNING', 'CANCELLING')).toBe(true);
    expect(canMoveSession('CANCELLING', 'CANCELLED')).toBe(true);
    expect(canMoveSession('CANCELLING', 'COMPLETED')).toBe(false);
    expect(canMoveSession('CANCELLING', 'RUNNING')).toBe(false);
    for (const end of ENDED_SESSION_STATUSES) {
      expect(canMoveSession('RUNNING', end)).toBe(true);
      for (const to of ['RUNNING', 'CANCELLING', ...ENDED_SESSION_STATUSES] as SessionStatus[]) expect(canMoveSession(end, to)).toBe(false);
    }
  });
  it('moves a task PENDING ⇄ RUNNING, to an end from either, and never out of an end', () => {
    expect(canMoveTask('PENDING', 'RUNNING')).toBe(true);
    expect(canMoveTask('RUNNING', 'PENDING')).toBe(true); // handed back, or taken from a dead process
    expect(canMoveTask('PENDING', 'COMPLETED')).toBe(false); // only a run completes a task
    expect(taskStatusesBefore('CANCELLED')).toEqual(['PENDING', 'RUNNING']);
    expect(taskStatusesBefore('COMPLETED')).toEqual(['RUNNING']);
    expect(taskStatusesBefore('RUNNING')).toEqual(['PENDING']);
    for (const end of ENDED_TASK_STATUSES) {
      for (const to of ['PENDING', 'RUNNING', ...ENDED_TASK_STATUSES] as TaskStatus[]) expect(canMoveTask(end, to)).toBe(false);
    }
  });
  it('takes a cancel only from a live session not already cancelling', () => {
    expect(canCancelSession({ status: 'RUNNING', cancelRequested: false })).toBe(true);
    expect(canCancelSession({ status: 'CANCELLING', cancelRequested: true })).toBe(false);
    expect(canCancelSession({ status: 'COMPLETED', cancelRequested: false })).toBe(false);
  });
});
