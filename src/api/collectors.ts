/**
 * What Census can inventory (a Census addition): GET /api/census/collector lists each collector's
 * metadata — type, display name, Manage Protection group, default port, child object types,
 * identity kinds, TLS, connection checks — and GET /api/census/collector/{type} answers one. The
 * CLI's `--type` and the web UI's menu and pages are driven by this list.
 */
import type { FastifyInstance } from 'fastify';
import type { CollectorInfo } from '../core/collector-info.ts';
import { notFound } from '../core/errors.ts';
import { listInMemory } from '../core/match.ts';
import type { FieldMap } from '../core/query.ts';
import { envelope, readCollectionQuery, toListQuery } from './collection.ts';
import type { ApiContext } from './context.ts';
import { baseUrl, link } from './links.ts';
import { collectionQuery, pathParams, routeSchema, TAGS, type CollectorWire } from './schemas/index.ts';

const COLLECTOR_FIELDS: FieldMap = {
  type: { column: 'type', type: 'string' }, displayName: { column: 'displayName', type: 'string' }, group: { column: 'group', type: 'string' },
  defaultPort: { column: 'defaultPort', type: 'number' }, tls: { column: 'tls', type: 'boolean' },
};

/** The path segment an instance's children answer under: the API has routes for these two. */
export type ChildSegment = 'database' | 'filesystem';

/** Where an application type's children are listed: file systems under /filesystem, anything else under /database. */
export function childSegment(collectors: readonly CollectorInfo[], type: string): ChildSegment {
  return collectors.find((c) => c.type === type)?.childTypes[0] === 'filesystem' ? 'filesystem' : 'database';
}

export function collectorWire(base: string, c: CollectorInfo): CollectorWire {
  const self = `/api/census/collector/${encodeURIComponent(c.type)}`;
  return {
    links: {
      self: link(base, self, 'self'),
      up: link(base, '/api/census/collector', 'up'),
      instances: link(base, `/api/application/${encodeURIComponent(c.type)}/instance`),
      appservers: link(base, `/api/appserver?${new URLSearchParams({ filter: JSON.stringify([{ property: 'applicationType', value: c.type }]) })}`),
    },
    id: c.type,
    type: c.type,
    displayName: c.displayName,
    serverNoun: c.serverNoun ?? `${c.displayName} server`,
    group: c.group,
    defaultPort: c.defaultPort,
    childTypes: [...c.childTypes],
    identityKinds: [...c.identityKinds],
    passwordOptional: c.passwordOptional ?? false,
    tls: c.tls,
    defaultTls: c.tls ? c.defaultTls ?? 'disable' : null,
    defaultUri: c.defaultUri ?? null,
    checks: c.checks.map(({ name, description }) => ({ name, description })),
    resourceType: 'collector',
  };
}

export function collectorRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get('/api/census/collector', {
    schema: routeSchema({
      tag: TAGS.collectors,
      permission: 'session', summary: 'List what Census can inventory',
      description: 'A Census addition: one record per collector (application type), in the order they are registered. Filter properties: type, displayName, group, defaultPort, tls.',
      querystring: collectionQuery(),
      ok: { 200: 'CollectorList' },
      errors: [400],
    }),
  }, async (req) => {
    const cq = readCollectionQuery(req);
    const base = baseUrl(req);
    const page = listInMemory(ctx.collectors.map((c) => collectorWire(base, c)), toListQuery(cq, COLLECTOR_FIELDS));
    return envelope(req, 'collectors', page.items, page.total, cq.paging);
  });

  app.get('/api/census/collector/:type', {
    schema: routeSchema({
      tag: TAGS.collectors,
      permission: 'session', summary: 'Get one collector',
      description: 'A Census addition. 404 for a type Census cannot inventory.',
      params: pathParams({ type: 'Application type, e.g. `postgresql`.' }),
      ok: { 200: 'Collector' },
      errors: [404],
    }),
  }, async (req) => {
    const type = String((req.params as { type: string }).type).toLowerCase();
    const found = ctx.collectors.find((c) => c.type === type);
    if (!found) throw notFound('Collector', type);
    return collectorWire(baseUrl(req), found);
  });
}
