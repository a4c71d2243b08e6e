/** /api/endeavour/job (spec §4). */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { badRequest, notFound } from '../core/errors.ts';
import { listInMemory } from '../core/match.ts';
import type { FieldMap } from '../core/query.ts';
import type { Job } from '../core/types.ts';
import { nextFireTime, validateSchedule } from '../engine/schedule.ts';
import { envelope, readCollectionQuery, toListQuery } from './collection.ts';
import { bodyObject, idParam, queryParam, userName, type ApiContext } from './context.ts';
import { baseUrl, link } from './links.ts';
import { answer, collectionQuery, pathParams, query, requestBody, routeSchema, TAGS } from './schemas.ts';
import { jobToWire } from './wire.ts';

const JOB_ID = pathParams({ id: 'Job id, e.g. 1004.' });

const TRIGGER_BODY = requestBody({
  type: 'object',
  description: 'The daily trigger: `{"time": "HH:MM", "timezone": "Europe/Berlin"}`; `{"time": null}` removes it.',
  required: ['time'],
  properties: {
    time: { type: ['string', 'null'], pattern: '^([01]?\\d|2[0-3]):[0-5]\\d$', description: 'Wall-clock time HH:MM (24-hour), or null to remove the trigger.' },
    timezone: { type: 'string', description: 'IANA time zone (default UTC).' },
  },
  additionalProperties: true,
}, { required: true });

const JOB_FIELDS: FieldMap = Object.fromEntries(
  [
    ['id', 'number'], ['name', 'string'], ['displayName', 'string'], ['description', 'string'], ['policyId', 'number'],
    ['policyName', 'string'], ['type', 'string'], ['subType', 'string'], ['serviceId', 'string'], ['status', 'string'],
    ['lastSessionStatus', 'string'], ['lastRunTime', 'number'], ['nextFireTime', 'number'], ['tenantId', 'number'],
  ].map(([p, t]) => [p!, { column: p!, type: t as 'string' | 'number' }]),
);

const MAX_CACHED = 256;

export function jobRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { store, engine, clock } = ctx;

  async function view(base: string, job: Job) {
    const running = job.runningSessionId !== null ? await store.sessions.get(job.runningSessionId) : undefined;
    const ended = job.lastSessionId !== null ? await store.sessions.get(job.lastSessionId) : undefined;
    return jobToWire(base, job, running, ended, clock);
  }

  async function jobOr404(id: number): Promise<Job> {
    const job = await store.jobs.get(id);
    if (!job) throw notFound('Job', id);
    return job;
  }

  app.get('/api/endeavour/job', {
    schema: routeSchema({
      tag: TAGS.jobs,
      summary: 'List jobs',
      description: 'Filter properties: id, name, displayName, description, policyId, policyName, type, subType, serviceId, status, lastSessionStatus, lastRunTime, nextFireTime, tenantId.',
      querystring: collectionQuery(),
      ok: { 200: 'JobList' },
      errors: [400],
    }),
  }, async (req) => {
    const cq = readCollectionQuery(req);
    const base = baseUrl(req);
    const all = await Promise.all((await store.jobs.all()).map((j) => view(base, j)));
    const page = listInMemory(all, toListQuery(cq, JOB_FIELDS, [{ property: 'id', direction: 'ASC' }]));
    return envelope(req, 'jobs', page.items, page.total, cq.paging, {
      stats: link(base, '/api/endeavour/jobsession/stats'),
    });
  });

  // The hot path of every monitoring client. On the embedded default the serialized body of an
  // idle job is kept until this process writes anything; a running job is always read fresh
  // (its duration moves).
  const cache = new Map<string, { gen: number; body: string }>();
  app.get('/api/endeavour/job/:id', {
    // The handler sends a serialized string (cached while nothing changes): the 200 schema
    // documents it and is not applied to it.
    schema: routeSchema({ tag: TAGS.jobs, summary: 'Get a job', params: JOB_ID, ok: { 200: 'Job' }, errors: [400, 404] }),
  }, async (req, reply) => {
    const id = idParam(req);
    const base = baseUrl(req);
    const key = `${base} ${id}`;
    const gen = store.writeGeneration();
    const hit = gen === undefined ? undefined : cache.get(key);
    if (hit && hit.gen === gen) return reply.type('application/json; charset=utf-8').send(hit.body);
    const job = await jobOr404(id);
    const body = JSON.stringify(await view(base, job));
    if (gen !== undefined && job.runningSessionId === null) {
      if (cache.size >= MAX_CACHED) cache.clear();
      cache.set(key, { gen, body });
    }
    return reply.type('application/json; charset=utf-8').send(body);
  });

  app.get('/api/endeavour/job/:id/status', {
    schema: routeSchema({ tag: TAGS.jobs, summary: "Get a job's status", params: JOB_ID, ok: { 200: 'JobStatus' }, errors: [400, 404] }),
  }, async (req) => {
    const job = await jobOr404(idParam(req));
    const w = await view(baseUrl(req), job);
    return { currentStatus: w.status, lastSessionStatus: w.lastSessionStatus, lastrun: w.lastrun ?? null, id: w.id };
  });

  app.post('/api/endeavour/job/:id', {
    schema: routeSchema({
      tag: TAGS.jobs,
      summary: 'Start, cancel, pause or release a job',
      description: '`start` (or `inventory`) starts a session; while one runs it starts nothing and answers the running job. `cancel` cancels the running session. ' +
        '`pause` (`hold`) and `release` (`resume`) hold and release the schedule. Answers the job.',
      params: JOB_ID,
      querystring: query({ action: '`start`, `inventory`, `cancel`, `pause`, `hold`, `release` or `resume`.', actionname: 'Ignored (SPP clients send `start`).' }),
      body: requestBody({
        type: 'object',
        description: 'Ignored: no body, `{}` or `{"actionname": "start"}`.',
        properties: { actionname: { type: 'string' } },
        additionalProperties: true,
      }),
      ok: { 200: answer('Job', 'The job after the action.') },
      errors: [400, 404],
    }),
  }, async (req) => {
    const id = idParam(req);
    bodyObject(req); // the body carries nothing we need (SPP sends {} or {actionname}), but must be an object
    const action = queryParam(req, 'action');
    const by = await userName(ctx, req);
    switch (action) {
      case 'start':
      case 'inventory': // DOC "Starting a job manually" (10.1.6) shows this spelling; treat it as start.
        await engine.startJob(id, { by, trigger: 'manual' });
        break;
      case 'cancel': {
        const job = await jobOr404(id);
        if (job.runningSessionId !== null) await engine.cancelSession(job.runningSessionId, by);
        break;
      }
      case 'pause':
      case 'hold':
        await jobOr404(id);
        await store.jobs.setHeld(id, true);
        break;
      case 'release':
      case 'resume':
        await jobOr404(id);
        await store.jobs.setHeld(id, false);
        break;
      case undefined:
        throw badRequest('Say what to do with ?action=start, cancel, pause or release.');
      default:
        throw badRequest(`Unknown job action ${JSON.stringify(action)}; use start, cancel, pause or release.`);
    }
    return view(baseUrl(req), await jobOr404(id));
  });

  app.get('/api/endeavour/job/:id/trigger', {
    schema: routeSchema({
      tag: TAGS.jobs, summary: "Get a job's trigger", description: 'A Census extension (docs/scheduling.md).', params: JOB_ID,
      ok: { 200: 'TriggerList' }, errors: [400, 404],
    }),
  }, async (req) => triggerView(req, await jobOr404(idParam(req))));

  // Sets the daily trigger: {"time": "HH:MM", "timezone": "Europe/Berlin"}; {"time": null} removes it.
  app.put('/api/endeavour/job/:id/trigger', {
    schema: routeSchema({
      tag: TAGS.jobs, summary: "Set or remove a job's daily trigger", description: 'A Census extension (docs/scheduling.md).',
      params: JOB_ID, body: TRIGGER_BODY, ok: { 200: 'TriggerList' }, errors: [400, 404],
    }),
  }, async (req) => {
    const id = idParam(req);
    await jobOr404(id);
    const body = bodyObject(req);
    // An object is no zone name (and String() of `{"toString": 1}` would throw: a 500).
    if (body.timezone !== null && typeof body.timezone === 'object') throw badRequest('"timezone" must be an IANA time zone name such as "Europe/Berlin".');
    if (body.time === null) {
      await store.jobs.setSchedule(id, null, null);
    } else {
      const schedule = validateSchedule(body);
      await store.jobs.setSchedule(id, schedule, nextFireTime(schedule, clock.now()));
    }
    return triggerView(req, await jobOr404(id));
  });

  function triggerView(req: FastifyRequest, job: Job) {
    const base = baseUrl(req);
    const triggers = job.schedule
      ? [{
          links: { self: link(base, `/api/endeavour/job/${job.id}/trigger`, 'self') },
          id: String(job.triggerId), type: 'DAILY', time: job.schedule.time, timezone: job.schedule.timezone,
          held: job.held, nextFireTime: job.nextFireTime,
        }]
      : [];
    return { links: { self: link(base, `/api/endeavour/job/${job.id}/trigger`, 'self'), up: link(base, `/api/endeavour/job/${job.id}`, 'up') }, total: triggers.length, page: 1, triggers };
  }

  app.delete('/api/endeavour/job/:id', {
    schema: routeSchema({
      tag: TAGS.jobs, summary: 'Delete a job (refused)', description: 'Both jobs are system jobs: always 400 `XSBOperationNotAllowedException` (404 for an unknown id).',
      params: JOB_ID, ok: {}, errors: [400, 404],
    }),
  }, async (req) => {
    const job = await jobOr404(idParam(req));
    throw badRequest(`${job.name} is a system job and cannot be deleted.`, 'XSBOperationNotAllowedException');
  });
}
