/** Inventory results through SPP's application endpoints (spec §7.4). */
import type { FastifyInstance } from 'fastify';
import { notFound } from '../core/errors.ts';
import { INT32_MAX, type FieldMap } from '../core/query.ts';
import type { Database, Instance } from '../core/types.ts';
import { envelope, readCollectionQuery, toListQuery } from './collection.ts';
import { idParam, type ApiContext } from './context.ts';
import { baseUrl, link } from './links.ts';

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

export function applicationRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { store } = ctx;
  const typeOf = (req: { params: unknown }) => String((req.params as { type: string }).type).toLowerCase();

  const instanceWire = (base: string, i: Instance) => {
    const self = `/api/application/${i.applicationType}/instance/${i.id}`;
    return {
      links: {
        self: link(base, self, 'self'),
        up: link(base, `/api/application/${i.applicationType}/instance`, 'up'),
        databases: link(base, `${self}/database`),
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
      properties: i.properties,
      firstSeen: i.firstSeen,
      lastSeen: i.lastSeen,
      missing: i.missing,
      lastSessionId: i.lastSessionId === null ? null : String(i.lastSessionId),
      resourceType: 'applicationinstance',
    };
  };

  const databaseWire = (base: string, type: string, d: Database) => ({
    links: {
      self: link(base, `/api/application/${type}/instance/${d.instanceId}/database/${d.id}`, 'self'),
      up: link(base, `/api/application/${type}/instance/${d.instanceId}/database`, 'up'),
      instance: link(base, `/api/application/${type}/instance/${d.instanceId}`),
    },
    id: String(d.id),
    name: d.name,
    instanceId: String(d.instanceId),
    size: d.sizeBytes,
    sizeBytes: d.sizeBytes,
    owner: d.owner,
    encoding: d.encoding,
    properties: d.properties,
    firstSeen: d.firstSeen,
    lastSeen: d.lastSeen,
    missing: d.missing,
    storageProfiles: [],
    eligibility: { backup: { eligible: !d.missing }, logbackup: { eligible: false } },
    resourceType: 'database',
  });

  app.get('/api/application/:type/instance', async (req) => {
    const cq = readCollectionQuery(req);
    const page = await store.inventory.listInstances(toListQuery(cq, INSTANCE_FIELDS, [{ property: 'name', direction: 'ASC' }]), typeOf(req));
    const base = baseUrl(req);
    return envelope(req, 'instances', page.items.map((i) => instanceWire(base, i)), page.total, cq.paging);
  });

  async function instanceOr404(req: { params: unknown }) {
    const id = idParam(req as never);
    const i = await store.inventory.instance(id);
    if (!i || i.applicationType !== typeOf(req)) throw notFound('Instance', id);
    return i;
  }

  app.get('/api/application/:type/instance/:id', async (req) => instanceWire(baseUrl(req), await instanceOr404(req)));

  app.get('/api/application/:type/instance/:id/database', async (req) => {
    const i = await instanceOr404(req);
    const cq = readCollectionQuery(req);
    const page = await store.inventory.listDatabases(toListQuery(cq, DATABASE_FIELDS, [{ property: 'name', direction: 'ASC' }]), i.id);
    const base = baseUrl(req);
    return envelope(req, 'databases', page.items.map((d) => databaseWire(base, i.applicationType, d)), page.total, cq.paging);
  });

  app.get('/api/application/:type/instance/:id/database/:dbId', async (req) => {
    const i = await instanceOr404(req);
    const dbId = idParam(req, 'dbId');
    const d = await store.inventory.database(dbId);
    if (!d || d.instanceId !== i.id) throw notFound('Database', dbId);
    return databaseWire(baseUrl(req), i.applicationType, d);
  });
}
