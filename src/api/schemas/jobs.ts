/** Jobs (spec §4): the job record, its status, its daily trigger, and the bodies of job actions. */
import { Type, type Static } from '@sinclair/typebox';
import { MISSED_RUN_POLICIES } from '../../core/missed-run.ts';
import { alwaysNull, arrayOf, boolean, collection, epochMs, integer, linksOf, number, numericId, object, oneOf, orNull, ref, str } from './common.ts';

export const SESSION_STATUSES = ['RUNNING', 'CANCELLING', 'COMPLETED', 'PARTIAL', 'FAILED', 'CANCELLED'];
const JOB_STATUSES = ['IDLE', 'RUNNING', 'HELD'];

export const Lastrun = object({
  sessionId: numericId('Id of the session: epoch milliseconds of its creation'),
  jobName: str(),
  type: str(),
  subType: str(),
  serviceId: str(),
  start: epochMs('Start'),
  end: orNull(epochMs('End; null while it runs')),
  duration: integer('Milliseconds from start to end (or to now, while it runs).'),
  status: oneOf(SESSION_STATUSES, 'Session status.'),
  results: str('"Started" while it runs, then the final status.'),
  properties: alwaysNull(),
  numTasks: integer('Tasks in the session (one per application server).'),
  previousLastTask: integer('Always 0 in Census.'),
  lastUpdate: epochMs('Last change of the session'),
  percent: number('Share of tasks ended, 0–100.'),
  policySnapshot: alwaysNull(),
}, "The job's `lastrun`: its running session while it runs, else the last session that ended.");
Lastrun.$id = 'Lastrun';
export type LastrunWire = Static<typeof Lastrun>;

/** A Census extension beside SPP's fields (docs/scheduling.md). */
const MissedRun = oneOf([...MISSED_RUN_POLICIES], 'Census: what happens to a scheduled run that did not happen at its time: `run-once` (run once when Census finds it due) or `skip` (move on and raise a schedule.missed alert); docs/scheduling.md.');

export const Job = object({
  links: linksOf('self, up, edit, status, triggers, stats, jobsessions, livejobsessions, activejobsessions, pendingjobsessions, historicaljobsessions, history, lastrun, lastrunlog; `start` when idle or held, `cancel` while running; `pause Schedule` / `release Schedule` on scheduled jobs.'),
  name: str(),
  description: orNull(str()),
  policyId: numericId('Policy id'),
  policyName: str(),
  type: str('e.g. `catalog` or `maintenance`.'),
  typeDisplayName: str(),
  subType: str('e.g. `application`.'),
  subTypeDisplayName: str(),
  serviceId: str('e.g. `serviceprovider.catalog.application`.'),
  displayName: str(),
  status: oneOf(JOB_STATUSES, 'Job state.'),
  statusDisplayName: str(),
  lastSessionStatus: orNull(oneOf([...SESSION_STATUSES, null], 'Status of the last session that ended.')),
  lastSessionStatusDisplayName: orNull(str()),
  triggerIds: arrayOf(numericId('Trigger id')),
  triggerData: arrayOf(object({ triggerId: numericId('Trigger id'), triggerInfo: alwaysNull() })),
  lastRunTime: orNull(epochMs('Start of the session shown as `lastrun`')),
  nextFireTime: orNull(epochMs('Next scheduled start; null without a trigger')),
  lastSessionDuration: orNull(integer('Duration of the last session that ended, ms.')),
  tenantId: integer('Always 1000.'),
  actions: alwaysNull(),
  statistics: alwaysNull(),
  lastrun: Type.Optional(ref(Lastrun)),
  id: numericId('Job id'),
  missedRun: MissedRun,
}, 'A job (spec §4.1): 1001 Maintenance and 1004 Application Server Inventory.');
Job.$id = 'Job';
export type JobWire = Static<typeof Job>;

export const JobList = collection('jobs', Job, 'Jobs.');
JobList.$id = 'JobList';

export const JobStatus = object({
  currentStatus: oneOf(JOB_STATUSES, 'The job state.'),
  lastSessionStatus: orNull(str('Status of the last session that ended.')),
  lastrun: Type.Union([ref(Lastrun), Type.Null()], { description: 'As `lastrun` of the job; null if it never ran.' }),
  id: numericId('Job id'),
}, 'The short status of a job.');
JobStatus.$id = 'JobStatus';
export type JobStatusWire = Static<typeof JobStatus>;

export const Trigger = object({
  links: linksOf(),
  id: numericId('Trigger id'),
  type: str('Always `DAILY`.'),
  time: str('Wall-clock time, HH:MM.'),
  timezone: str('IANA time zone.'),
  held: boolean('The schedule is paused.'),
  nextFireTime: orNull(epochMs('Next start')),
  missedRun: MissedRun,
}, "A job's daily trigger (a Census extension; docs/scheduling.md).");
Trigger.$id = 'Trigger';
export type TriggerWire = Static<typeof Trigger>;

export const TriggerList = collection('triggers', Trigger, "A job's triggers: none or one.");
TriggerList.$id = 'TriggerList';
export type TriggerListWire = Static<typeof TriggerList>;

// ---- request bodies --------------------------------------------------------------------------

/** POST /api/endeavour/job/{id}: SPP clients send nothing, `{}` or `{"actionname": "start"}`. */
export const JobActionBody = Type.Object({
  actionname: Type.Optional(Type.String()),
}, { description: 'Ignored: no body, `{}` or `{"actionname": "start"}`.', additionalProperties: true });

/** PUT /api/endeavour/job/{id}/trigger. The time's form and the zone's name are checked by the handler (validateSchedule). */
export const TriggerBody = Type.Object({
  time: Type.Optional(Type.Union([Type.String(), Type.Null()], { description: 'Wall-clock time HH:MM (24-hour), or null to remove the trigger; left out, the trigger stays.', 'x-error': 'must be a time HH:MM or null' })),
  timezone: Type.Optional(Type.Union([Type.String(), Type.Null()], { description: 'IANA time zone (default UTC).', 'x-error': 'must be an IANA time zone name such as "Europe/Berlin"' })),
  missedRun: Type.Optional(Type.Union(MISSED_RUN_POLICIES.map((p) => Type.Literal(p)), { description: 'The missed-run policy: `run-once` (default) or `skip`; left out, it stays.', 'x-error': 'must be "run-once" or "skip"' })),
}, { description: 'The daily trigger: `{"time": "HH:MM", "timezone": "Europe/Berlin"}`; `{"time": null}` removes it; `{"missedRun": "skip"}` sets the missed-run policy alone.', additionalProperties: true });
