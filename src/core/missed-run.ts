/**
 * What a job does about a scheduled run that did not happen at its time (docs/scheduling.md):
 * 'run-once' runs it once when a scheduler next finds it due (however many days were missed),
 * 'skip' moves the trigger on without running and leaves a schedule.missed alert. Kept in the
 * job's options as `missedRun`; a job without one runs once.
 */
import { invalid } from './errors.ts';

export const MISSED_RUN_POLICIES = ['run-once', 'skip'] as const;
export type MissedRunPolicy = (typeof MISSED_RUN_POLICIES)[number];

export const DEFAULT_MISSED_RUN: MissedRunPolicy = 'run-once';

/** The job's policy; an unknown stored value counts as the default. */
export function missedRunOf(options: Record<string, unknown>): MissedRunPolicy {
  const v = options.missedRun;
  return (MISSED_RUN_POLICIES as readonly unknown[]).includes(v) ? (v as MissedRunPolicy) : DEFAULT_MISSED_RUN;
}

/** Checks what a caller gave as `missedRun`. */
export function validateMissedRun(v: unknown): MissedRunPolicy {
  if (typeof v === 'string' && (MISSED_RUN_POLICIES as readonly string[]).includes(v)) return v as MissedRunPolicy;
  throw invalid(`"missedRun" must be ${MISSED_RUN_POLICIES.map((p) => `"${p}"`).join(' or ')}, not ${JSON.stringify(v)}.`, 'job.trigger');
}
