/** Domain records → SPP's JSON shapes (spec §4.1, §5.1, §6). */
import type { Clock } from '../core/clock.ts';
import { missedRunOf } from '../core/missed-run.ts';
import { displayName, isSessionLive, jobStatus } from '../core/status.ts';
import { INT32_MAX, type FieldMap } from '../core/query.ts';
import type { InventoryChange, Job, JobSession, LogEntry, SessionState } from '../core/types.ts';
import { filterQuery, link, type Links } from './links.ts';
import type { ChangeWire, JobSessionWire, JobWire, LastrunWire, LogEntryWire } from './schemas/index.ts';

export const TENANT_ID = 1000;

/** The display name of a type or status word (never empty, so never null). */
const label = (word: string): string => displayName(word) ?? word;

const sessionDuration = (s: SessionState, now: number) => (s.end ?? (isSessionLive(s.status) ? now : s.lastUpdate)) - s.start;

export function jobLinks(base: string, job: Job, running: boolean, lastrunId: number | null): Links {
  const id = job.id;
  const sessions = (extra: object[] = []) =>
    `/api/endeavour/jobsession?${filterQuery([...extra, { property: 'jobId', value: String(id), op: '=' }] as never)}`;
  const status = (v: string) => sessions([{ property: 'status', op: '=', value: v }]);
  const links: Links = {
    self: link(base, `/api/endeavour/job/${id}`, 'self'),
    up: link(base, '/api/endeavour/job', 'up'),
    edit: link(base, `/api/endeavour/job/${id}`, 'update'),
    status: link(base, `/api/endeavour/job/${id}/status`),
    triggers: link(base, `/api/endeavour/job/${id}/trigger`),
    stats: link(base, `/api/endeavour/jobsession/stats/jobid/${id}`),
    jobsessions: link(base, sessions()),
    livejobsessions: link(base, status('live')),
    activejobsessions: link(base, status('active')),
    pendingjobsessions: link(base, status('pending')),
    historicaljobsessions: link(base, status('history')),
    history: link(base, `/api/endeavour/jobsession/history/jobid/${id}`),
  };
  if (lastrunId !== null) {
    links.lastrun = link(base, `/api/endeavour/jobsession/${lastrunId}`);
    links.lastrunlog = link(base, `/api/endeavour/log/job?${filterQuery([{ property: 'jobsessionId', value: String(lastrunId) }])}`);
  }
  if (running) links.cancel = link(base, `/api/endeavour/job/${id}?action=cancel`, 'action', 'Cancel');
  else links.start = link(base, `/api/endeavour/job/${id}?action=start`, 'action', 'Start');
  if (job.schedule) {
    if (job.held) links['release Schedule'] = link(base, `/api/endeavour/job/${id}?action=release`, 'action', 'Release Schedule');
    else links['pause Schedule'] = link(base, `/api/endeavour/job/${id}?action=pause`, 'action', 'Pause Schedule');
  }
  return links;
}

/** `lastrun` of a job: the running session while it runs, else the last one that ended. */
export function lastrun(s: SessionState, now: number): LastrunWire {
  return {
    sessionId: String(s.id),
    jobName: s.jobName,
    type: s.type,
    subType: s.subType,
    serviceId: s.serviceId,
    start: s.start,
    end: s.end,
    duration: sessionDuration(s, now),
    status: s.status,
    results: s.results,
    properties: null,
    numTasks: s.numTasks,
    previousLastTask: 0,
    lastUpdate: s.lastUpdate,
    percent: s.percent,
    policySnapshot: null,
  };
}

/**
 * The job object, field for field as in the seed document. `running` is the live session, `ended`
 * the last finished one (which gives lastSessionStatus and lastSessionDuration).
 */
export function jobToWire(base: string, job: Job, running: SessionState | undefined, ended: SessionState | undefined, clock: Clock): JobWire {
  const now = clock.now();
  const status = jobStatus(running ? running.id : null, job.held);
  const shown = running ?? ended;
  const triggerIds = job.triggerId !== null && job.schedule ? [String(job.triggerId)] : [];
  return {
    links: jobLinks(base, job, !!running, shown?.id ?? null),
    name: job.name,
    description: job.description,
    policyId: String(job.policyId),
    policyName: job.policyName,
    type: job.type,
    typeDisplayName: label(job.type),
    subType: job.subType,
    subTypeDisplayName: label(job.subType),
    serviceId: job.serviceId,
    displayName: job.name,
    status,
    statusDisplayName: label(status),
    lastSessionStatus: ended?.status ?? null,
    lastSessionStatusDisplayName: displayName(ended?.status),
    triggerIds,
    triggerData: triggerIds.map((triggerId) => ({ triggerId, triggerInfo: null })),
    lastRunTime: shown?.start ?? null,
    nextFireTime: job.schedule ? job.nextFireTime : null,
    lastSessionDuration: ended ? sessionDuration(ended, now) : null,
    tenantId: TENANT_ID,
    actions: null,
    statistics: null,
    ...(shown ? { lastrun: lastrun(shown, now) } : {}),
    id: String(job.id),
    // Census's own, after SPP's fields (docs/scheduling.md).
    missedRun: missedRunOf(job.options),
  };
}

export function sessionToWire(base: string, s: JobSession, clock: Clock): JobSessionWire {
  const id = String(s.id);
  const logFilter = filterQuery([{ property: 'jobsessionId', value: id }]);
  const links: Links = {
    self: link(base, `/api/endeavour/jobsession/${id}`, 'self'),
    up: link(base, '/api/endeavour/jobsession', 'up'),
    job: link(base, `/api/endeavour/job/${s.jobId}`),
    tasks: link(base, `/api/endeavour/jobsession/${id}/task`),
    changes: link(base, `/api/endeavour/jobsession/${id}/change`),
    log: link(base, `/api/endeavour/log/job?${logFilter}`),
  };
  if (isSessionLive(s.status)) links.cancel = link(base, `/api/endeavour/jobsession/${id}?action=cancel`, 'action', 'Cancel');
  return {
    links,
    id,
    jobId: String(s.jobId),
    jobName: s.jobName,
    type: s.type,
    typeDisplayName: label(s.type),
    subType: s.subType,
    subTypeDisplayName: label(s.subType),
    subPolicyType: null,
    subPolicyTypeDisplayName: null,
    serviceId: s.serviceId,
    displayName: s.jobName,
    description: null,
    start: s.start,
    end: s.end,
    duration: sessionDuration(s, clock.now()),
    lastUpdate: s.lastUpdate,
    status: s.status,
    statusDisplayName: label(s.status),
    indexStatus: null,
    results: s.results,
    properties: { statistics: s.statistics, trigger: s.trigger },
    numTasks: s.numTasks,
    previousLastTask: 0,
    percent: s.percent,
    expiresAt: null,
    expirationTime: null,
    retention: null,
    retentionUnit: null,
    expired: false,
    hasCatalog: false,
    hasCondensed: false,
    userUpdate: false,
    rerunnable: false,
    wormProtected: false,
    actions: null,
    statistics: null,
    policySnapshot: {
      id: String(s.jobId),
      name: s.jobName,
      type: s.type,
      subType: s.subType,
      serviceId: s.serviceId,
      version: null,
      description: null,
      script: null,
      spec: {
        source: s.scope.map((e) => ({
          href: `${base}/api/appserver/${e.id}`,
          resourceType: e.resourceType,
          name: e.name,
          id: String(e.id),
          include: true,
          metadata: { path: '', name: e.name },
        })),
        option: {},
      },
    },
  };
}

export function logToWire(base: string, e: LogEntry): LogEntryWire {
  return {
    links: { self: link(base, `/api/endeavour/log/job/${e.id}`, 'self'), up: link(base, '/api/endeavour/log/job', 'up') },
    id: e.id,
    name: null,
    type: e.type,
    category: 'NONSERVICE',
    logTime: e.logTime,
    modName: null,
    jobId: String(e.jobId),
    jobsessionTaskId: e.taskId === null ? null : String(e.taskId),
    jobsessionId: e.sessionId,
    sessionId: String(e.sessionId),
    threadId: null,
    policyId: String(e.jobId),
    message: e.message,
    messageId: e.messageId,
    messageParams: e.messageParams,
    detail: null,
    properties: null,
    requesterIp: null,
  };
}

export const CHANGE_FIELDS: FieldMap = {
  id: { column: 'id', type: 'number', max: INT32_MAX },
  jobsessionId: { column: 'sessionId', type: 'number' },
  appserverId: { column: 'appserverId', type: 'number', max: INT32_MAX },
  objectType: { column: 'objectType', type: 'string' },
  objectName: { column: 'objectName', type: 'string' },
  parentName: { column: 'parentName', type: 'string' },
  change: { column: 'change', type: 'string' },
  field: { column: 'field', type: 'string' },
  recordedAt: { column: 'recordedAt', type: 'number' },
};

/** One entry of the change history (a Census addition to SPP's API). */
export function changeWire(base: string, c: InventoryChange): ChangeWire {
  return {
    links: {
      jobsession: link(base, `/api/endeavour/jobsession/${c.sessionId}`),
      appserver: link(base, `/api/appserver/${c.appserverId}`),
    },
    id: String(c.id),
    jobsessionId: String(c.sessionId),
    appserverId: String(c.appserverId),
    objectType: c.objectType,
    objectId: c.objectId === null ? null : String(c.objectId),
    objectName: c.objectName,
    parentName: c.parentName,
    change: c.change,
    field: c.field,
    oldValue: c.oldValue,
    newValue: c.newValue,
    recordedAt: c.recordedAt,
  };
}
