/** /api/endeavour/job (spec §4). */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { invalid } from '../core/errors.ts';
import { listInMemory } from '../core/match.ts';
import { missedRunOf } from '../core/missed-run.ts';
import type { FieldMap } from '../core/query.ts';
import type { Job } from '../core/types.ts';
import type { JobView } from '../services/index.ts';
import { envelope, readCollectionQuery, toListQuery } from './collection.ts';
import { bodyObject, idParam, queryParam, actorOf, type ApiContext } from './context.ts';
import type { FastLane } from './fast-lane.ts';
import { baseUrl, link, rawBaseUrl } from './links.ts';
import { answer, collectionQuery, JobActionBody, pathParams, query, requestBody, routeSchema, TAGS, TriggerBody } from './schemas/index.ts';
import type { JobWire, LastrunWire } from './schemas/index.ts';
import { jobToWire } from './wire.ts';

const JOB_ID = pathParams({ id: 'Job id, e.g. 1004.' });

const TRIGGER_BODY = requestBody(TriggerBody, { required: true });

const JOB_FIELDS: FieldMap = Object.fromEntries(
  [
    ['id', 'number'], ['name', 'string'], ['displayName', 'string'], ['description', 'string'], ['policyId', 'number'],
    ['policyName', 'string'], ['type', 'string'], ['subType', 'string'], ['serviceId', 'string'], ['status', 'string'],
    ['lastSessionStatus', 'string'], ['lastRunTime', 'number'], ['nextFireTime', 'number'], ['tenantId', 'number'],
    ['missedRun', 'string'],
  ].map(([p, t]) => [p!, { column: p!, type: t as 'string' | 'number' }]),
);

const MAX_CACHED = 256;
const JSON_TYPE = 'application/json; charset=utf-8';

type JobStatusAnswer = { currentStatus: string; lastSessionStatus: string | null; lastrun: LastrunWire | null; id: string };

/** A serialized job: whole, or split where its running session's duration goes. */
type KeptBody = Buffer | { head: string; tail: string };

/** A job's two answers under one generation; `start` is its running session's (null: none runs). */
interface Kept {
  gen: number;
  body: KeptBody;
  status: JobStatusAnswer;
  start: number | null;
}

const DURATION_MARK = '\u0000duration\u0000';

/** The job's JSON; while a session runs, cut where lastrun.duration is written (render() puts it in). */
function keepBody(w: JobWire, running: boolean): KeptBody {
  // Kept as bytes: a string body is encoded again inside every write (measured: 7 µs of the
  // job-status GET's 24 beyond the bare route, which sends bytes).
  if (!running || !w.lastrun) return Buffer.from(JSON.stringify(w));
  const text = JSON.stringify({ ...w, lastrun: { ...w.lastrun, duration: DURATION_MARK } });
  const mark = JSON.stringify(DURATION_MARK);
  const at = text.indexOf(mark);
  return { head: text.slice(0, at), tail: text.slice(at + mark.length) };
}

function render({ body, start }: Kept, now: number): string | Buffer {
  return Buffer.isBuffer(body) ? body : body.head + String(now - start!) + body.tail;
}

export function jobRoutes(app: FastifyInstance, ctx: ApiContext, lane?: FastLane): void {
  const { jobs } = ctx.services;
  const { clock } = ctx;

  const wire = (base: string, v: JobView) => jobToWire(base, v.job, v.running, v.ended, clock);

  app.get('/api/endeavour/job', {
    schema: routeSchema({
      tag: TAGS.jobs,
      permission: 'policy.view', summary: 'List jobs',
      description: 'Filter properties: id, name, displayName, description, policyId, policyName, type, subType, serviceId, status, lastSessionStatus, lastRunTime, nextFireTime, tenantId, missedRun.',
      querystring: collectionQuery(),
      ok: { 200: 'JobList' },
      errors: [400],
    }),
  }, async (req) => {
    const cq = readCollectionQuery(req);
    const base = baseUrl(req);
    const all = (await jobs.list(await actorOf(ctx, req))).map((v) => wire(base, v));
    const page = listInMemory(all, toListQuery(cq, JOB_FIELDS, [{ property: 'id', direction: 'ASC' }]));
    return envelope(req, 'jobs', page.items, page.total, cq.paging, {
      stats: link(base, '/api/endeavour/jobsession/stats'),
    });
  });

  // The hot path of every monitoring client. A job's answers (the job and its status) are kept
  // while jobs.generation() stays the same: on the embedded default until this process writes a
  // job or a session, on PostgreSQL until any process changes a job or a session (the store's
  // change feed). Only one part of them moves with the clock, a running session's duration (its
  // start is fixed and its end is null while it runs), so a running job's answers are kept too,
  // with that number put in per request: while a session writes progress many times a second,
  // most polls still cost no read. One read serves both routes.
  const kept = new Map<string, Kept>();
  /** The answers kept for a job under a base URL, if they still hold. */
  function keptHit(base: string, id: number): Kept | undefined {
    const gen = jobs.generation();
    const hit = gen === undefined ? undefined : kept.get(`${base} ${id}`);
    return hit && hit.gen === gen ? hit : undefined;
  }
  async function keptAnswers(req: FastifyRequest, id: number): Promise<Kept> {
    const base = baseUrl(req);
    const hit = keptHit(base, id);
    if (hit) return hit;
    const key = `${base} ${id}`;
    const gen = jobs.generation();
    const v = await jobs.view(await actorOf(ctx, req), id);
    const w = wire(base, v);
    const answers: Kept = {
      gen: gen ?? -1,
      body: keepBody(w, v.running !== undefined),
      status: { currentStatus: w.status, lastSessionStatus: w.lastSessionStatus, lastrun: w.lastrun ?? null, id: w.id },
      start: v.running?.start ?? null,
    };
    if (gen === undefined) return answers;
    // Bounded by clearing: the keys are the job ids clients ask about, under each base URL.
    if (kept.size >= MAX_CACHED && !kept.has(key)) kept.clear();
    kept.set(key, answers);
    return answers;
  }

  app.get('/api/endeavour/job/:id', {
    // The handler sends a serialized string: the 200 schema documents it and is not applied to it.
    schema: routeSchema({ tag: TAGS.jobs, permission: 'policy.view', summary: 'Get a job', params: JOB_ID, ok: { 200: 'Job' }, errors: [400, 404] }),
  }, async (req, reply) => {
    const id = idParam(req);
    const answers = await keptAnswers(req, id);
    // The same GET again goes by the fast lane while the answers hold (src/api/fast-lane.ts).
    lane?.learn(req, (raw) => {
      const hit = keptHit(rawBaseUrl(app, raw), id);
      return hit && { body: render(hit, clock.now()), type: JSON_TYPE };
    });
    return reply.type(JSON_TYPE).send(render(answers, clock.now()));
  });

  // The object the route's schema serializes, with lastrun's duration filled in per request.
  app.get('/api/endeavour/job/:id/status', {
    schema: routeSchema({ tag: TAGS.jobs, permission: 'policy.view', summary: "Get a job's status", params: JOB_ID, ok: { 200: 'JobStatus' }, errors: [400, 404] }),
  }, async (req) => {
    const { status, start } = await keptAnswers(req, idParam(req));
    return start === null || !status.lastrun ? status : { ...status, lastrun: { ...status.lastrun, duration: clock.now() - start } };
  });

  app.post('/api/endeavour/job/:id', {
    schema: routeSchema({
      tag: TAGS.jobs,
      permission: { action: { start: 'policy.run', cancel: 'policy.run', hold: 'policy.edit', release: 'policy.edit' } }, summary: 'Start, cancel, pause or release a job',
      description: '`start` (or `inventory`) starts a session; while one runs it starts nothing and answers the running job. `cancel` cancels the running session. ' +
        '`pause` (`hold`) and `release` (`resume`) hold and release the schedule. Answers the job.',
      params: JOB_ID,
      querystring: query({ action: '`start`, `inventory`, `cancel`, `pause`, `hold`, `release` or `resume`.', actionname: 'Ignored (SPP clients send `start`).' }),
      body: requestBody(JobActionBody),
      ok: { 200: answer('Job', 'The job after the action.') },
      errors: [400, 404],
    }),
  }, async (req) => {
    const id = idParam(req);
    bodyObject(req); // the body carries nothing we need (SPP sends {} or {actionname}), but must be an object
    const action = queryParam(req, 'action');
    const actor = await actorOf(ctx, req);
    switch (action) {
      case 'start':
      case 'inventory': // DOC "Starting a job manually" (10.1.6) shows this spelling; treat it as start.
        await jobs.start(actor, id, 'manual');
        break;
      case 'cancel':
        await jobs.cancel(actor, id);
        break;
      case 'pause':
      case 'hold':
        await jobs.hold(actor, id);
        break;
      case 'release':
      case 'resume':
        await jobs.release(actor, id);
        break;
      case undefined:
        throw invalid('Say what to do with ?action=start, cancel, pause or release.');
      default:
        throw invalid(`Unknown job action ${JSON.stringify(action)}; use start, cancel, pause or release.`);
    }
    return wire(baseUrl(req), await jobs.view(actor, id));
  });

  app.get('/api/endeavour/job/:id/trigger', {
    schema: routeSchema({
      tag: TAGS.jobs, permission: 'policy.view', summary: "Get a job's trigger", description: 'A Census extension (docs/scheduling.md).', params: JOB_ID,
      ok: { 200: 'TriggerList' }, errors: [400, 404],
    }),
  }, async (req) => triggerView(req, await jobs.get(await actorOf(ctx, req), idParam(req))));

  // Sets the daily trigger: {"time": "HH:MM", "timezone": "Europe/Berlin"}; {"time": null} removes it;
  // {"missedRun": "skip"} sets the missed-run policy (with or without a time).
  app.put('/api/endeavour/job/:id/trigger', {
    schema: routeSchema({
      tag: TAGS.jobs, permission: 'policy.edit', summary: "Set or remove a job's daily trigger", description: 'A Census extension (docs/scheduling.md).',
      params: JOB_ID, body: TRIGGER_BODY, ok: { 200: 'TriggerList' }, errors: [400, 404],
    }),
  }, async (req) => {
    const id = idParam(req);
    const body = bodyObject(req);
    return triggerView(req, await jobs.setTrigger(await actorOf(ctx, req), id, { time: body.time, timezone: body.timezone, missedRun: body.missedRun }));
  });

  function triggerView(req: FastifyRequest, job: Job) {
    const base = baseUrl(req);
    const triggers = job.schedule
      ? [{
          links: { self: link(base, `/api/endeavour/job/${job.id}/trigger`, 'self') },
          id: String(job.triggerId), type: 'DAILY', time: job.schedule.time, timezone: job.schedule.timezone,
          held: job.held, nextFireTime: job.nextFireTime, missedRun: missedRunOf(job.options),
        }]
      : [];
    return { links: { self: link(base, `/api/endeavour/job/${job.id}/trigger`, 'self'), up: link(base, `/api/endeavour/job/${job.id}`, 'up') }, total: triggers.length, page: 1, triggers };
  }

  app.delete('/api/endeavour/job/:id', {
    schema: routeSchema({
      tag: TAGS.jobs, permission: 'policy.edit', summary: 'Delete a job (refused)', description: 'Both jobs are system jobs: always 400 `XSBOperationNotAllowedException` (404 for an unknown id).',
      params: JOB_ID, ok: {}, errors: [400, 404],
    }),
  }, async (req) => {
    return jobs.delete(await actorOf(ctx, req), idParam(req));
  });
}
