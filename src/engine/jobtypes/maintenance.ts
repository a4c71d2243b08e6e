/**
 * The Maintenance job (1001): removes ended job sessions, their tasks and log entries older than
 * the retention period, with cleared alerts and sent notifications (their deliveries too) of that
 * age, events of the live event stream older than theirs (job option
 * `eventRetentionDays`, default 1), audit log entries older than theirs (`auditRetentionDays`,
 * default 365), and login sessions left idle past their timeout.
 */
import { message } from '../messages.ts';
import { DEFAULT_RETENTION_DAYS, MAINTENANCE_SERVICE } from '../system-jobs.ts';
import type { JobType, TaskOutcome, TaskRun } from './types.ts';

const DAY = 86_400_000;
const BATCH = 500;
/** How long the event journal behind GET /api/endeavour/events keeps events (a resume window, not history). */
const DEFAULT_EVENT_RETENTION_DAYS = 1;
/** How long the audit log keeps who did what (a year: long enough to answer for last year's changes). */
export const DEFAULT_AUDIT_RETENTION_DAYS = 365;

/** One task with no target; its session reports no statistics. */
export function maintenance(settings: { loginIdleMs: number }): JobType {
  return {
    serviceId: MAINTENANCE_SERVICE,
    plan: async () => ({ tasks: [{ name: 'Maintenance', targetKind: 'none' }] }),
    run: (t) => runMaintenance(settings.loginIdleMs, t),
  };
}

async function runMaintenance(loginIdleMs: number, d: TaskRun): Promise<TaskOutcome> {
  const { session } = d;
  const job = await d.store.jobs.get(session.jobId);
  const days = Number(job?.options.retentionDays ?? DEFAULT_RETENTION_DAYS);
  const cutoff = d.clock.now() - days * DAY;
  let sessions = 0;
  let logs = 0;
  // In batches, each its own transaction, so a large backlog never holds one long lock.
  for (;;) {
    const ids = (await d.store.sessions.endedBefore(cutoff, BATCH)).filter((id) => id !== session.id);
    if (!ids.length) break;
    logs += await d.store.transaction(async (r) => {
      await r.metrics.tallyRemoved(ids); // census_job_sessions_total keeps counting them
      return r.sessions.deleteMany(ids);
    });
    sessions += ids.length;
    if (ids.length < BATCH) break;
  }
  const logins = await d.store.loginSessions.deleteIdleSince(d.clock.now() - loginIdleMs);
  await d.log(d.store, message('INFO', 'CNSM0200', sessions, logs, days, logins));
  // Alerts cleared and notifications sent within the same period stay, as the sessions do.
  const alerts = await d.store.alerts.deleteClearedBefore(cutoff);
  let notifications = 0;
  for (;;) {
    const n = await d.store.transaction((r) => r.notifications.pruneBefore(cutoff, BATCH));
    notifications += n;
    if (n < BATCH) break;
  }
  await d.log(d.store, message('INFO', 'CNSM0203', alerts, notifications, days));
  const asked = Number(job?.options.eventRetentionDays ?? DEFAULT_EVENT_RETENTION_DAYS);
  const eventDays = Number.isFinite(asked) && asked >= 0 ? asked : DEFAULT_EVENT_RETENTION_DAYS;
  const events = await d.store.events.prune(d.clock.now() - eventDays * DAY);
  await d.log(d.store, message('INFO', 'CNSM0201', events, eventDays));
  const auditAsked = Number(job?.options.auditRetentionDays ?? DEFAULT_AUDIT_RETENTION_DAYS);
  const auditDays = Number.isFinite(auditAsked) && auditAsked >= 0 ? auditAsked : DEFAULT_AUDIT_RETENTION_DAYS;
  const audits = await d.store.audit.deleteBefore(d.clock.now() - auditDays * DAY);
  await d.log(d.store, message('INFO', 'CNSM0202', audits, auditDays));
  return { status: 'COMPLETED' };
}
