import { describe, expect, it } from 'vitest';
import { displayName, jobStatus, normalizeStatusWord, sessionOutcome } from './status.ts';

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
