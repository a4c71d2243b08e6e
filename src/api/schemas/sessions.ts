/** Job sessions (spec §5), their tasks and counts, and job log entries (spec §6). */
import { Type, type Static } from '@sinclair/typebox';
import { LOG_TYPES } from '../../core/status.ts';
import {
  alwaysNull, arrayOf, boolean, collection, epochMs, integer, linksOf, number, numericId, object, oneOf, openObject, orNull, ref, str,
} from './common.ts';
import { SESSION_STATUSES } from './jobs.ts';

const TASK_STATUSES = ['PENDING', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED'];

export const SessionStatistic = Type.Object({
  resourceType: str('`appserver`, or `instance` / `database` / `filesystem` for change counts.'),
  total: integer(),
  success: integer(),
  failed: integer(),
  skipped: integer('Includes cancelled tasks.'),
  appeared: Type.Optional(integer('Objects found for the first time (inventory change counts).')),
  disappeared: Type.Optional(integer('Objects no longer found.')),
  changed: Type.Optional(integer('Objects whose properties changed.')),
}, { description: 'Counts of one resource type in a session.', additionalProperties: true });
SessionStatistic.$id = 'SessionStatistic';
export type SessionStatisticWire = Static<typeof SessionStatistic>;

export const JobSession = object({
  links: linksOf('self, up, job, tasks, changes, log; `cancel` while it runs.'),
  id: numericId('Session id: epoch milliseconds of its creation'),
  jobId: numericId('Job id'),
  jobName: str(),
  type: str(),
  typeDisplayName: str(),
  subType: str(),
  subTypeDisplayName: str(),
  subPolicyType: alwaysNull(),
  subPolicyTypeDisplayName: alwaysNull(),
  serviceId: str(),
  displayName: str(),
  description: alwaysNull(),
  start: epochMs('Start'),
  end: orNull(epochMs('End; null while it runs')),
  duration: integer('Milliseconds from start to end (or to now, while it runs).'),
  lastUpdate: epochMs('Last change'),
  status: oneOf(SESSION_STATUSES, 'RUNNING and CANCELLING while it runs; then how it ended.'),
  statusDisplayName: str(),
  indexStatus: alwaysNull(),
  results: str('"Started" while it runs, then the final status.'),
  properties: openObject('What the run covered and what started it.', {
    statistics: Type.Optional(arrayOf(ref(SessionStatistic))),
    trigger: Type.Optional(str('What started the run: `manual`, `schedule`, `registration`, `appserver` or `first-start`.')),
  }),
  numTasks: integer(),
  previousLastTask: integer('Always 0 in Census.'),
  percent: number('Share of tasks ended, 0–100.'),
  expiresAt: alwaysNull(),
  expirationTime: alwaysNull(),
  retention: alwaysNull(),
  retentionUnit: alwaysNull(),
  expired: boolean(),
  hasCatalog: boolean(),
  hasCondensed: boolean(),
  userUpdate: boolean(),
  rerunnable: boolean(),
  wormProtected: boolean(),
  actions: alwaysNull(),
  statistics: alwaysNull(),
  policySnapshot: object({
    id: numericId('Job id'),
    name: str(),
    type: str(),
    subType: str(),
    serviceId: str(),
    version: alwaysNull(),
    description: alwaysNull(),
    script: alwaysNull(),
    spec: openObject('`source`: the application servers the run covered; `option`: none.', {
      source: Type.Optional(arrayOf(openObject('One application server the run covered.', {
        href: Type.Optional(str()),
        resourceType: Type.Optional(str('Always `appserver`.')),
        name: Type.Optional(str()),
        id: Type.Optional(numericId('Application server id')),
        include: Type.Optional(boolean()),
        metadata: Type.Optional(openObject(undefined, { path: Type.Optional(str()), name: Type.Optional(str()) })),
      }))),
      option: Type.Optional(openObject()),
    }),
  }, 'The job as it was when the session started.'),
}, 'A job session: one run of a job (spec §5.1).');
JobSession.$id = 'JobSession';
export type JobSessionWire = Static<typeof JobSession>;

export const JobSessionList = collection('sessions', JobSession, 'Job sessions.');
JobSessionList.$id = 'JobSessionList';

export const JobSessionStats = object({
  start: orNull(epochMs('Start of the range asked for with rangeunit/range; null without one')),
  end: epochMs('Now'),
  successful: integer('Sessions COMPLETED.'),
  failed: integer('Sessions FAILED.'),
  warning: integer('Sessions PARTIAL.'),
  running: integer('Sessions RUNNING or CANCELLING.'),
  totalRuns: integer(),
  successPercent: integer('successful / totalRuns, rounded, 0–100.'),
  WAITING: integer('Always 0.'),
  RUNNING: integer(),
  CANCELLED: integer(),
  STOPPED: integer('Always 0.'),
  ABORTED: integer('Always 0.'),
  FAILED: integer(),
  PARTIAL: integer(),
  COMPLETED: integer(),
  OTHER: integer('Always 0.'),
}, 'Counts of job sessions by status (the SPP dashboard shape, spec §5.3).');
JobSessionStats.$id = 'JobSessionStats';
export type JobSessionStatsWire = Static<typeof JobSessionStats>;

export const Task = object({
  links: linksOf(),
  id: numericId('Task id'),
  name: str('Name of the application server.'),
  appserverId: orNull(numericId('Application server id')),
  status: oneOf(TASK_STATUSES),
  start: orNull(epochMs('Start; null until it runs')),
  end: orNull(epochMs('End; null until it ends')),
  duration: orNull(integer('Milliseconds it ran (so far); null until it runs.')),
  attempts: integer(),
  errorCode: orNull(str('REFUSED, DNS, TIMEOUT, TLS, AUTH, PERMISSION, PROTOCOL, CANCELLED or UNKNOWN when it failed.')),
  message: orNull(str()),
}, 'One task of a job session: the inventory of one application server (a Census addition).');
Task.$id = 'Task';
export type TaskWire = Static<typeof Task>;

export const TaskList = collection('tasks', Task, 'Tasks of a job session.');
TaskList.$id = 'TaskList';

export const LogEntry = object({
  links: linksOf(),
  id: str('24 hex characters.'),
  name: alwaysNull(),
  type: oneOf([...LOG_TYPES]),
  category: str('Always `NONSERVICE`.'),
  logTime: epochMs('When it was written'),
  modName: alwaysNull(),
  jobId: numericId('Job id'),
  jobsessionTaskId: orNull(numericId('Task id')),
  jobsessionId: integer('Session id, as a JSON number (as SPP writes it).'),
  sessionId: numericId('Session id'),
  threadId: alwaysNull(),
  policyId: numericId('Policy id'),
  message: str(),
  messageId: str('Census message ids start with `CNS` (docs/compat.md lists them).'),
  messageParams: arrayOf(str(), 'Positional values of the message.'),
  detail: alwaysNull(),
  properties: alwaysNull(),
  requesterIp: alwaysNull(),
}, 'A job log entry (spec §6).');
LogEntry.$id = 'LogEntry';
export type LogEntryWire = Static<typeof LogEntry>;

export const LogList = collection('logs', LogEntry, 'Job log entries.');
LogList.$id = 'LogList';

// ---- request bodies --------------------------------------------------------------------------

/** POST /api/endeavour/jobsession/{id}?action=cancel. */
export const SessionActionBody = Type.Object({}, { description: 'Ignored: no body or `{}`.', additionalProperties: true });
