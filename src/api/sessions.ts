/** /api/endeavour/jobsession (spec §5) and /api/endeavour/log/job (spec §6). */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { invalid } from '../core/errors.ts';
import { asNumber, asText, INT32_MAX, type Criterion, type FieldMap } from '../core/query.ts';
import { normalizeStatusWord, PSEUDO_SESSION_STATUS } from '../core/status.ts';
import { envelope, readCollectionQuery, toListQuery, type CollectionQuery } from './collection.ts';
import { idParam, queryParam, actorOf, type ApiContext } from './context.ts';
import { baseUrl, link } from './links.ts';
import { answer, collectionQuery, pathParams, query, requestBody, routeSchema, SessionActionBody, TAGS } from './schemas/index.ts';
import { CHANGE_FIELDS, changeWire, logToWire, sessionToWire } from './wire.ts';

const SESSION_ID = pathParams({ id: 'Job session id (epoch milliseconds of its creation).' });
const JOB_ID = pathParams({ id: 'Job id, e.g. 1004.' });
const SESSION_FILTER_NOTE = 'Filter properties: id, jobId, jobName, displayName, type, subType, serviceId, status, start, end, lastUpdate, percent, numTasks, results. ' +
  '`status` also takes the pseudo-values `live`/`active` (RUNNING or CANCELLING), `history` (ended) and `pending` (none), and CANCELED/CANCELING; ' +
  '`rangeunit` (minute, hour, day, week) with `range` N means started in the last N units.';

/** [property, column, type, largest value the column holds (INTEGER columns; BIGINT ones need none)] */
const fields = (pairs: [string, string, 'string' | 'number', number?][]): FieldMap =>
  Object.fromEntries(pairs.map(([p, column, type, max]) => [p, max === undefined ? { column, type } : { column, type, max }]));
const INT = INT32_MAX;
/** Job-session ids are BIGINT (epoch ms). */
const SESSION_ID_MAX = Number.MAX_SAFE_INTEGER;

const SESSION_FIELDS = fields([
  ['id', 'id', 'number'], ['jobId', 'jobId', 'number', INT], ['jobName', 'jobName', 'string'], ['displayName', 'jobName', 'string'],
  ['type', 'type', 'string'], ['subType', 'subType', 'string'], ['serviceId', 'serviceId', 'string'], ['status', 'status', 'string'],
  ['start', 'start', 'number'], ['end', 'end', 'number'], ['lastUpdate', 'lastUpdate', 'number'], ['percent', 'percent', 'number', INT],
  ['numTasks', 'numTasks', 'number', INT], ['results', 'results', 'string'],
]);

const LOG_FIELDS = fields([
  ['id', 'id', 'string'], ['jobsessionId', 'sessionId', 'number'], ['sessionId', 'sessionId', 'number'], ['jobId', 'jobId', 'number', INT],
  ['jobsessionTaskId', 'taskId', 'number', INT], ['type', 'type', 'string'], ['logTime', 'logTime', 'number'], ['message', 'message', 'string'],
]);

const TASK_FIELDS = fields([
  ['id', 'id', 'number', INT], ['name', 'name', 'string'], ['status', 'status', 'string'], ['start', 'start', 'number'],
  ['end', 'end', 'number'], ['appserverId', 'appserverId', 'number', INT],
]);

const HOUR = 3_600_000;
const RANGE_UNITS: Record<string, number> = { minute: 60_000, hour: HOUR, day: 24 * HOUR, week: 7 * 24 * HOUR };

/**
 * SPP's pseudo-criteria on sessions: `status` = live/active/pending/history, the two spellings of
 * cancelled, and `rangeunit` + `range` meaning "started in the last N units".
 */
function sessionCriteria(cq: CollectionQuery, now: number): Criterion[] {
  const out: Criterion[] = [];
  const unit = cq.criteria.find((c) => c.property === 'rangeunit');
  const range = cq.criteria.find((c) => c.property === 'range');
  if (unit && range) {
    const name = asText(unit.value).toLowerCase().replace(/s$/, '');
    // Own keys only: "__proto__" or "constructor" are not units.
    const ms = Object.hasOwn(RANGE_UNITS, name) ? RANGE_UNITS[name] : undefined;
    const n = asNumber(range.value);
    if (!ms || !Number.isFinite(n)) throw invalid('rangeunit must be minute, hour, day or week, and range a number.');
    // A range beyond any date means "since ever" (or "from beyond the end"): kept a whole number
    // a client can read back as `start`, rather than ±Infinity, which the answer cannot carry.
    out.push({ property: 'start', op: '>=', value: Math.round(Math.max(-Number.MAX_SAFE_INTEGER, Math.min(Number.MAX_SAFE_INTEGER, now - n * ms))) });
  }
  for (const c of cq.criteria) {
    // EXISTS / NOT EXISTS take no value: nothing to translate (every session has a status).
    if (c.property !== 'status' || c.op === 'EXISTS' || c.op === 'NOT EXISTS') {
      out.push(c);
      continue;
    }
    const values = (Array.isArray(c.value) ? c.value : [c.value]).flatMap((v) => {
      const word = asText(v).toLowerCase();
      const pseudo = Object.hasOwn(PSEUDO_SESSION_STATUS, word) ? PSEUDO_SESSION_STATUS[word] : undefined;
      return pseudo ? [...pseudo] : [normalizeStatusWord(word)];
    });
    const negate = c.op === '<>' || c.op === 'NOT IN';
    out.push({ property: 'status', op: negate ? 'NOT IN' : 'IN', value: values });
  }
  return out;
}

export function sessionRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { sessions } = ctx.services;
  const { clock } = ctx;

  const sessionId = (req: FastifyRequest) => idParam(req, 'id', SESSION_ID_MAX);

  const listSessions = (jobId?: number) => async (req: FastifyRequest) => {
    const cq = readCollectionQuery(req);
    const q = toListQuery({ ...cq, criteria: sessionCriteria(cq, clock.now()) }, SESSION_FIELDS, [{ property: 'start', direction: 'ASC' }]);
    const page = await sessions.list(await actorOf(ctx, req), q, jobId);
    const base = baseUrl(req);
    return envelope(req, 'sessions', page.items.map((s) => sessionToWire(base, s, clock)), page.total, cq.paging);
  };

  app.get('/api/endeavour/jobsession', {
    schema: routeSchema({
      tag: TAGS.sessions, permission: 'policy.view', summary: 'List job sessions', description: `${SESSION_FILTER_NOTE} Default order: start ascending.`,
      querystring: collectionQuery(), ok: { 200: 'JobSessionList' }, errors: [400],
    }),
  }, listSessions());

  // sppmon reads a job's runs here; SPP ignores `filter` on this path, and so do we.
  app.get('/api/endeavour/jobsession/history/jobid/:id', {
    schema: routeSchema({
      tag: TAGS.sessions, permission: 'policy.view', summary: "A job's sessions (history)",
      description: 'Every session of the job, running ones included, by start ascending. `filter` is ignored here, as in SPP.',
      params: JOB_ID, querystring: collectionQuery({ filter: 'Ignored on this path.' }), ok: { 200: 'JobSessionList' }, errors: [400, 404],
    }),
  }, async (req) => {
    const jobId = idParam(req);
    const cq = readCollectionQuery(req);
    const q = toListQuery({ ...cq, criteria: [] }, SESSION_FIELDS, [{ property: 'start', direction: 'ASC' }]);
    const page = await sessions.list(await actorOf(ctx, req), q, jobId);
    const base = baseUrl(req);
    return envelope(req, 'sessions', page.items.map((s) => sessionToWire(base, s, clock)), page.total, cq.paging);
  });

  // Counts by status over the filtered sessions (the SPP dashboard's shape, spec §5.3).
  const stats = (jobId?: number) => async (req: FastifyRequest) => {
    const cq = readCollectionQuery(req);
    const now = clock.now();
    const criteria = sessionCriteria(cq, now);
    const q = toListQuery({ ...cq, criteria }, SESSION_FIELDS);
    const by = await sessions.countByStatus(await actorOf(ctx, req), q, jobId);
    const n = (s: string) => by[s] ?? 0;
    const totalRuns = Object.values(by).reduce((a, b) => a + b, 0);
    const successful = n('COMPLETED');
    const failed = n('FAILED');
    const warning = n('PARTIAL');
    const running = n('RUNNING') + n('CANCELLING');
    const since = criteria.find((c) => c.property === 'start' && c.op === '>=');
    return {
      start: since ? Number(since.value) : null, end: now, successful, failed, warning, running, totalRuns,
      successPercent: totalRuns ? Math.round((successful / totalRuns) * 100) : 0,
      WAITING: 0, RUNNING: running, CANCELLED: n('CANCELLED'), STOPPED: 0, ABORTED: 0, FAILED: failed, PARTIAL: warning, COMPLETED: successful,
      OTHER: 0,
    };
  };
  app.get('/api/endeavour/jobsession/stats', {
    schema: routeSchema({
      tag: TAGS.sessions, permission: 'policy.view', summary: 'Count job sessions by status', description: SESSION_FILTER_NOTE,
      querystring: collectionQuery({}, ['sort', 'pageSize', 'pageStartIndex']), ok: { 200: 'JobSessionStats' }, errors: [400],
    }),
  }, stats());
  app.get('/api/endeavour/jobsession/stats/jobid/:id', {
    schema: routeSchema({
      tag: TAGS.sessions, permission: 'policy.view', summary: "Count a job's sessions by status", description: SESSION_FILTER_NOTE,
      params: JOB_ID, querystring: collectionQuery({}, ['sort', 'pageSize', 'pageStartIndex']), ok: { 200: 'JobSessionStats' }, errors: [400, 404],
    }),
  }, async (req) => stats(idParam(req))(req));

  app.get('/api/endeavour/jobsession/:id', {
    schema: routeSchema({ tag: TAGS.sessions, permission: 'policy.view', summary: 'Get a job session', params: SESSION_ID, ok: { 200: 'JobSession' }, errors: [400, 404] }),
  }, async (req) => {
    return sessionToWire(baseUrl(req), await sessions.get(await actorOf(ctx, req), sessionId(req)), clock);
  });

  // What an inventory session found changed (a Census addition; spec'd by issue 3).
  app.get('/api/endeavour/jobsession/:id/change', {
    schema: routeSchema({
      tag: TAGS.sessions, permission: 'policy.view', summary: 'Inventory changes a session recorded', description: 'A Census addition. Besides policy.view, a Hypervisor Inventory session\'s changes need hypervisor.view, any other session\'s application.view (403 otherwise). Filter properties: id, jobsessionId, appserverId, objectType, objectName, parentName, change, field, recordedAt.',
      params: SESSION_ID, querystring: collectionQuery(), ok: { 200: 'ChangeList' }, errors: [400, 403, 404],
    }),
  }, async (req) => {
    const id = sessionId(req);
    const cq = readCollectionQuery(req);
    const page = await sessions.changes(await actorOf(ctx, req), id, toListQuery(cq, CHANGE_FIELDS, [{ property: 'id', direction: 'ASC' }]));
    const base = baseUrl(req);
    return envelope(req, 'changes', page.items.map((c) => changeWire(base, c)), page.total, cq.paging);
  });

  app.get('/api/endeavour/jobsession/:id/task', {
    schema: routeSchema({
      tag: TAGS.sessions, permission: 'policy.view', summary: "A session's tasks", description: 'A Census addition: one task per application server. Filter properties: id, name, status, start, end, appserverId.',
      params: SESSION_ID, querystring: collectionQuery(), ok: { 200: 'TaskList' }, errors: [400, 404],
    }),
  }, async (req) => {
    const id = sessionId(req);
    const cq = readCollectionQuery(req);
    const page = await sessions.tasks(await actorOf(ctx, req), id, toListQuery(cq, TASK_FIELDS, [{ property: 'id', direction: 'ASC' }]));
    const base = baseUrl(req);
    const tasks = page.items.map((t) => ({
      links: { self: link(base, `/api/endeavour/jobsession/${id}/task/${t.id}`, 'self') },
      id: String(t.id),
      name: t.name,
      appserverId: t.appserverId === null ? null : String(t.appserverId),
      status: t.status,
      start: t.start,
      end: t.end,
      duration: t.start !== null ? (t.end ?? clock.now()) - t.start : null,
      attempts: t.attempts,
      errorCode: t.errorCode,
      message: t.message,
    }));
    return envelope(req, 'tasks', tasks, page.total, cq.paging);
  });

  // Cancel answers 201 Created, as SPP documents.
  app.post('/api/endeavour/jobsession/:id', {
    schema: routeSchema({
      tag: TAGS.sessions, permission: 'policy.run', summary: 'Cancel a job session',
      description: 'Pending tasks are dropped and running ones aborted; the session ends CANCELLED. Answers 201 with the session, as SPP documents.',
      params: SESSION_ID, querystring: query({ action: '`cancel`.' }),
      body: requestBody(SessionActionBody),
      ok: { 201: answer('JobSession', 'The session, CANCELLING or already ended.') }, errors: [400, 404],
    }),
  }, async (req, reply) => {
    const id = sessionId(req);
    const action = queryParam(req, 'action');
    if (action !== 'cancel') throw invalid(`Unknown job session action ${JSON.stringify(action ?? null)}; use ?action=cancel.`);
    const s = await sessions.cancel(await actorOf(ctx, req), id);
    return reply.code(201).send(sessionToWire(baseUrl(req), s, clock));
  });

  app.get('/api/endeavour/log/job', {
    schema: routeSchema({
      tag: TAGS.logs, permission: 'policy.view', summary: 'List job log entries',
      description: 'Filter properties: id, jobsessionId (or sessionId), jobId, jobsessionTaskId, type, logTime, message; `messageId` is ignored, as SPP did. Default order: logTime ascending.',
      querystring: collectionQuery(), ok: { 200: 'LogList' }, errors: [400],
    }),
  }, async (req) => {
    const cq = readCollectionQuery(req);
    const page = await sessions.logs(await actorOf(ctx, req), toListQuery(cq, LOG_FIELDS, [{ property: 'logTime', direction: 'ASC' }]));
    const base = baseUrl(req);
    return envelope(req, 'logs', page.items.map((e) => logToWire(base, e)), page.total, cq.paging);
  });

  app.get('/api/endeavour/log/job/:logId', {
    schema: routeSchema({
      tag: TAGS.logs, permission: 'policy.view', summary: 'Get a job log entry', params: pathParams({ logId: 'Log entry id: 24 hex characters.' }), ok: { 200: 'LogEntry' }, errors: [404],
    }),
  }, async (req) => {
    const logId = (req.params as { logId: string }).logId;
    return logToWire(baseUrl(req), await sessions.log(await actorOf(ctx, req), logId));
  });
}
