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
import { jobToWire } from './wire.ts';

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

  app.get('/api/endeavour/job', async (req) => {
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
  app.get('/api/endeavour/job/:id', async (req, reply) => {
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

  app.get('/api/endeavour/job/:id/status', async (req) => {
    const job = await jobOr404(idParam(req));
    const w = await view(baseUrl(req), job);
    return { currentStatus: w.status, lastSessionStatus: w.lastSessionStatus, lastrun: w.lastrun ?? null, id: w.id };
  });

  app.post('/api/endeavour/job/:id', async (req) => {
    const id = idParam(req);
    const body = bodyObject(req);
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
    void body;
    return view(baseUrl(req), await jobOr404(id));
  });

  app.get('/api/endeavour/job/:id/trigger', async (req) => triggerView(req, await jobOr404(idParam(req))));

  // Sets the daily trigger: {"time": "HH:MM", "timezone": "Europe/Berlin"}; {"time": null} removes it.
  app.put('/api/endeavour/job/:id/trigger', async (req) => {
    const id = idParam(req);
    await jobOr404(id);
    const body = bodyObject(req);
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

  app.delete('/api/endeavour/job/:id', async (req) => {
    const job = await jobOr404(idParam(req));
    throw badRequest(`${job.name} is a system job and cannot be deleted.`, 'XSBOperationNotAllowedException');
  });
}
