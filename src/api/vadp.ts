/**
 * Census's workers as SPP lists its VADP proxies (spec §11.3, docs/sites.md): /api/vadp. Read
 * with `site.view` (a Monitor has it: sppmon reads this list). SPP's fields first (id,
 * displayName, ipAddr, siteId, state, version), then Census's (pid, startedAt, lastSeen, …).
 */
import type { FastifyInstance } from 'fastify';
import type { WorkerView } from '../services/index.ts';
import { envelope, readCollectionQuery } from './collection.ts';
import { actorOf, idParam, type ApiContext } from './context.ts';
import { baseUrl, link } from './links.ts';
import { collectionQuery, pathParams, routeSchema, TAGS, type VadpWire } from './schemas/index.ts';

export function vadpWire(base: string, w: WorkerView): VadpWire {
  return {
    links: { self: link(base, `/api/vadp/${w.id}`, 'self'), up: link(base, '/api/vadp', 'up') },
    id: String(w.id),
    displayName: w.name,
    hostName: w.name,
    ipAddr: w.address,
    siteId: String(w.siteId),
    siteName: w.siteName,
    state: w.status,
    version: w.version,
    role: w.owner.startsWith('server@') ? 'server' : 'worker',
    pid: w.pid,
    startedAt: w.startedAt,
    lastSeen: w.lastSeenAt,
    leaseMs: w.leaseMs,
    sharesMachineWith: w.sharesMachineWith === null ? null : String(w.sharesMachineWith),
    sharedCpu: w.sharedCpu,
  };
}

export function vadpRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { workers } = ctx.services;

  app.get('/api/vadp', {
    schema: routeSchema({
      tag: TAGS.sites, summary: 'List workers (SPP: VADP proxies)', permission: 'site.view',
      description: 'Every process that runs tasks, live or not, oldest first; paging as other collections (filter and sort are not applied here). ' +
        'A worker is ENABLED while it heartbeats, DEAD once its last heartbeat is older than its lease, STOPPED after a clean stop.',
      querystring: collectionQuery(), ok: { 200: 'VadpList' }, errors: [400, 403],
    }),
  }, async (req) => {
    const cq = readCollectionQuery(req);
    const all = await workers.list(await actorOf(ctx, req));
    const { pageStartIndex, pageSize } = cq.paging;
    const base = baseUrl(req);
    return envelope(req, 'vadps', all.slice(pageStartIndex, pageStartIndex + pageSize).map((w) => vadpWire(base, w)), all.length, cq.paging);
  });

  app.get('/api/vadp/:id', {
    schema: routeSchema({
      tag: TAGS.sites, summary: 'Get a worker (SPP: a VADP proxy)', permission: 'site.view',
      params: pathParams({ id: 'Worker id.' }), ok: { 200: 'Vadp' }, errors: [400, 403, 404],
    }),
  }, async (req) => vadpWire(baseUrl(req), await workers.get(await actorOf(ctx, req), idParam(req))));
}
