/**
 * Daily triggers: a wall-clock time in an IANA time zone. Croner does the calendar arithmetic,
 * including daylight-saving changes (a time that does not exist that day fires at the next valid
 * instant; docs/scheduling.md).
 */
import { Cron } from 'croner';
import { invalid } from '../core/errors.ts';
import type { DailySchedule } from '../core/types.ts';

export function validateSchedule(s: { time?: unknown; timezone?: unknown }): DailySchedule {
  const time = typeof s.time === 'string' ? s.time.trim() : '';
  const m = /^([01]?\d|2[0-3]):([0-5]\d)$/.exec(time);
  if (!m) throw invalid(`The trigger time must be HH:MM (24-hour), not ${JSON.stringify(s.time)}.`);
  const timezone = s.timezone === undefined || s.timezone === null || s.timezone === '' ? 'UTC' : String(s.timezone);
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone });
  } catch {
    throw invalid(`Unknown time zone ${JSON.stringify(timezone)}; use an IANA name such as "Europe/Berlin" or "UTC".`);
  }
  return { time: `${m[1]!.padStart(2, '0')}:${m[2]}`, timezone };
}

/** The first fire time strictly after `after` (epoch ms). */
export function nextFireTime(s: DailySchedule, after: number): number {
  const [h, min] = s.time.split(':');
  const cron = new Cron(`${Number(min)} ${Number(h)} * * *`, { timezone: s.timezone, paused: true });
  const next = cron.nextRun(new Date(after));
  cron.stop();
  if (!next) throw new Error(`schedule ${s.time} ${s.timezone} has no next run`);
  return next.getTime();
}

/**
 * The fire times from `first` up to `now` (both included), oldest first: what was due while no
 * scheduler ran. At most `cap` are listed; `more` counts the ones left off.
 */
export function dueFireTimes(s: DailySchedule, first: number, now: number, cap = 31): { times: number[]; more: number } {
  const times: number[] = [];
  let more = 0;
  for (let t = first; t <= now; t = nextFireTime(s, t)) {
    if (times.length < cap) times.push(t);
    else {
      // Days are what is left: count them without asking the calendar for each one.
      more = Math.max(1, Math.floor((now - t) / 86_400_000) + 1);
      break;
    }
  }
  return { times, more };
}

/** A fire time as the trigger's zone shows it: "2026-06-01 02:30 Europe/Berlin". */
export function formatFireTime(t: number, timezone: string): string {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-CA', { timeZone: timezone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' })
      .formatToParts(new Date(t))
      .map((p) => [p.type, p.value]),
  );
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute} ${timezone}`;
}
