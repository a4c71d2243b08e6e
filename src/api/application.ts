/** Inventory results through SPP's application endpoints (spec §7.4). */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Actor } from '../core/actor.ts';
import type { CollectorInfo } from '../core/collector-info.ts';
import { INT32_MAX, type FieldMap, type ListQuery, type ListResult } from '../core/query.ts';
import type { Database, Instance, InventoryChange } from '../core/types.ts';
import { envelope, readCollectionQuery, toListQuery } from './collection.ts';
import { childSegment, type ChildSegment } from './collectors.ts';
import { actorOf, idParam, type ApiContext } from './context.ts';
import { baseUrl, link } from './links.ts';
import { collectionQuery, pathParams, routeSchema, TAGS, type DatabaseWire, type InstanceWire } from './schemas/index.ts';
import { CHANGE_FIELDS, changeWire } from './wire.ts';

const TYPE = { type: 'Application type: a `type` of GET /api/census/collector (any other type answers an empty list).' };
const INSTANCE = { ...TYPE, id: 'Instance id.' };
const INSTANCE_FILTER = 'Filter properties: id, name, host, port, version, appserverId, firstSeen, lastSeen, missing.';
const DATABASE_FILTER = 'Filter properties: id, name, owner, encoding, size (sizeBytes), firstSeen, lastSeen, missing.';
const CHANGE_FILTER = 'Filter properties: id, jobsessionId, appserverId, objectType, objectName, parentName, change, field, recordedAt. Default order: oldest first.';

const INSTANCE_FIELDS: FieldMap = {
  id: { column: 'id', type: 'number', max: INT32_MAX }, name: { column: 'name', type: 'string' }, host: { column: 'host', type: 'string' },
  port: { column: 'port', type: 'number', max: INT32_MAX }, version: { column: 'version', type: 'string' },
  appserverId: { column: 'appserverId', type: 'number', max: INT32_MAX }, firstSeen: { column: 'firstSeen', type: 'number' },
  lastSeen: { column: 'lastSeen', type: 'number' }, missing: { column: 'missing', type: 'boolean' },
};

const DATABASE_FIELDS: FieldMap = {
  id: { column: 'id', type: 'number', max: INT32_MAX }, name: { column: 'name', type: 'string' }, owner: { column: 'owner', type: 'string' },
  encoding: { column: 'encoding', type: 'string' }, size: { column: 'sizeBytes', type: 'number' },
  sizeBytes: { column: 'sizeBytes', type: 'number' }, firstSeen: { column: 'firstSeen', type: 'number' },
  lastSeen: { column: 'lastSeen', type: 'number' }, missing: { column: 'missing', type: 'boolean' },
};

/** `properties` without the keys its collector keeps only for its next run (CollectorInfo.keptForNextRun). */
function shown(properties: Record<string, unknown>, kept: readonly string[] | undefined): Record<string, unknown> {
  if (!kept?.some((k) => k in properties)) return properties;
  const out = { ...properties };
  for (const k of kept) delete out[k];
  return out;
}

/** An inventoried instance on the wire (spec §7.4); `children` is where its databases (or file systems) answer. */
export function instanceWire(base: string, i: Instance, children: ChildSegment = 'database', kept?: readonly string[]): InstanceWire {
  const self = `/api/application/${i.applicationType}/instance/${i.id}`;
  return {
    links: {
      self: link(base, self, 'self'),
      up: link(base, `/api/application/${i.applicationType}/instance`, 'up'),
      databases: link(base, `${self}/${children}`),
      history: link(base, `${self}/history`),
      appserver: link(base, `/api/appserver/${i.appserverId}`),
    },
    id: String(i.id),
    name: i.name,
    host: i.host,
    port: i.port,
    version: i.version,
    applicationType: i.applicationType,
    osType: 'linux',
    appserverId: String(i.appserverId),
    storageProfiles: [],
    metadataPath: null,
    properties: shown(i.properties, kept),
    firstSeen: i.firstSeen,
    lastSeen: i.lastSeen,
    missing: i.missing,
    lastSessionId: i.lastSessionId === null ? null : String(i.lastSessionId),
    findings: i.findings,
    resourceType: 'applicationinstance',
  };
}

/** An inventoried database (or file system) on the wire. */
export const databaseWire = (base: string, type: string, d: Database, kept?: readonly string[]): DatabaseWire => ({
  links: {
    self: link(base, `/api/application/${type}/instance/${d.instanceId}/${d.objectType}/${d.id}`, 'self'),
    up: link(base, `/api/application/${type}/instance/${d.instanceId}/${d.objectType}`, 'up'),
    history: link(base, `/api/application/${type}/instance/${d.instanceId}/${d.objectType}/${d.id}/history`),
    instance: link(base, `/api/application/${type}/instance/${d.instanceId}`),
  },
  id: String(d.id),
  name: d.name,
  instanceId: String(d.instanceId),
  size: d.sizeBytes,
  sizeBytes: d.sizeBytes,
  owner: d.owner,
  encoding: d.encoding,
  properties: shown(d.properties, kept),
  firstSeen: d.firstSeen,
  lastSeen: d.lastSeen,
  missing: d.missing,
  findings: d.findings,
  storageProfiles: [],
  eligibility: { backup: { eligible: !d.missing }, logbackup: { eligible: false } },
  resourceType: d.objectType,
});

export function applicationRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { inventory } = ctx.services;
  const typeOf = (req: { params: unknown }) => String((req.params as { type: string }).type).toLowerCase();
  const infoOf = (type: string): CollectorInfo | undefined => ctx.collectors.find((c) => c.type === type);
  const instanceOut = (base: string, i: Instance) =>
    instanceWire(base, i, childSegment(ctx.collectors, i.applicationType), infoOf(i.applicationType)?.keptForNextRun?.instance);
  const databaseOut = (base: string, type: string, d: Database) => databaseWire(base, type, d, infoOf(type)?.keptForNextRun?.child);

  app.get('/api/application/:type/instance', {
    schema: routeSchema({
      tag: TAGS.inventory, permission: 'application.view', summary: 'List instances of an application type', description: `${INSTANCE_FILTER} Default order: name.`,
      params: pathParams(TYPE), querystring: collectionQuery(), ok: { 200: 'InstanceList' }, errors: [400],
    }),
  }, async (req) => {
    const cq = readCollectionQuery(req);
    const q = toListQuery(cq, INSTANCE_FIELDS, [{ property: 'name', direction: 'ASC' }]);
    const page = await inventory.listInstances(await actorOf(ctx, req), q, typeOf(req));
    const base = baseUrl(req);
    return envelope(req, 'instances', page.items.map((i) => instanceOut(base, i)), page.total, cq.paging);
  });

  const instanceOr404 = (req: FastifyRequest, actor: Actor) => inventory.instance(actor, typeOf(req), idParam(req));

  app.get('/api/application/:type/instance/:id', {
    schema: routeSchema({ tag: TAGS.inventory, permission: 'application.view', summary: 'Get an instance', params: pathParams(INSTANCE), ok: { 200: 'Instance' }, errors: [400, 404] }),
  }, async (req) => {
    const i = await instanceOr404(req, await actorOf(ctx, req));
    return instanceOut(baseUrl(req), i);
  });

  // File-system hosts list their file systems; the same records answer under both names.
  for (const segment of ['database', 'filesystem'] as const) {
    const key = segment === 'database' ? 'databases' : 'filesystems';

    const what = segment === 'database' ? 'database' : 'file system';
    app.get(`/api/application/:type/instance/:id/${segment}`, {
      schema: routeSchema({
        tag: TAGS.inventory,
        permission: 'application.view', summary: segment === 'database' ? "List an instance's databases" : "List a file host's file systems",
        description: `${DATABASE_FILTER} Default order: name. The same records answer under /database and /filesystem (under their own key).`,
        params: pathParams(INSTANCE), querystring: collectionQuery(), ok: { 200: segment === 'database' ? 'DatabaseList' : 'FileSystemList' }, errors: [400, 404],
      }),
    }, async (req) => {
      const actor = await actorOf(ctx, req);
      const i = await instanceOr404(req, actor);
      const cq = readCollectionQuery(req);
      const page = await inventory.listDatabases(actor, i, toListQuery(cq, DATABASE_FIELDS, [{ property: 'name', direction: 'ASC' }]));
      const base = baseUrl(req);
      return envelope(req, key, page.items.map((d) => databaseOut(base, i.applicationType, d)), page.total, cq.paging);
    });

    app.get(`/api/application/:type/instance/:id/${segment}/:dbId`, {
      schema: routeSchema({
        tag: TAGS.inventory, permission: 'application.view', summary: `Get a ${what}`, params: pathParams({ ...INSTANCE, dbId: `${what === 'database' ? 'Database' : 'File system'} id.` }),
        ok: { 200: 'Database' }, errors: [400, 404],
      }),
    }, async (req) => databaseOut(baseUrl(req), typeOf(req), await databaseOr404(req, await actorOf(ctx, req))));

    app.get(`/api/application/:type/instance/:id/${segment}/:dbId/history`, {
      schema: routeSchema({
        tag: TAGS.inventory, permission: 'application.view', summary: `Change history of a ${what}`, description: `A Census addition. ${CHANGE_FILTER}`,
        params: pathParams({ ...INSTANCE, dbId: `${what === 'database' ? 'Database' : 'File system'} id.` }), querystring: collectionQuery(),
        ok: { 200: 'ChangeList' }, errors: [400, 404],
      }),
    }, async (req) => {
      const actor = await actorOf(ctx, req);
      const d = await databaseOr404(req, actor);
      return history(req, (q) => inventory.databaseHistory(actor, d, q));
    });
  }

  async function databaseOr404(req: FastifyRequest, actor: Actor) {
    const i = await instanceOr404(req, actor);
    return inventory.database(actor, i, idParam(req, 'dbId'));
  }

  app.get('/api/application/:type/instance/:id/history', {
    schema: routeSchema({
      tag: TAGS.inventory, permission: 'application.view', summary: 'Change history of an instance', description: `A Census addition. ${CHANGE_FILTER}`,
      params: pathParams(INSTANCE), querystring: collectionQuery(), ok: { 200: 'ChangeList' }, errors: [400, 404],
    }),
  }, async (req) => {
    const actor = await actorOf(ctx, req);
    const i = await instanceOr404(req, actor);
    return history(req, (q) => inventory.instanceHistory(actor, i, q));
  });

  /** One object's change history, oldest first: `read` asks the service for the page the query names. */
  async function history(req: FastifyRequest, read: (q: ListQuery) => Promise<ListResult<InventoryChange>>) {
    const cq = readCollectionQuery(req);
    const page = await read(toListQuery(cq, CHANGE_FIELDS, [{ property: 'recordedAt', direction: 'ASC' }]));
    const base = baseUrl(req);
    return envelope(req, 'changes', page.items.map((c) => changeWire(base, c)), page.total, cq.paging);
  }
}
