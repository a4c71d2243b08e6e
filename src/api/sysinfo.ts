/**
 * What sppmon's full run reads about the server itself (spec §11.3): the Census host's CPU,
 * memory and file systems (/ngp/metrics, /api/endeavour/sysdiag/filesystem), and SPP's storage,
 * SLA policy and storage profile collections, which are empty in Census: it keeps no backups
 * (docs/compat.md, "Host metrics, storage and SLA policies").
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Permission } from '../core/permissions.ts';
import { parsePaging } from '../core/query.ts';
import { envelope, readCollectionQuery } from './collection.ts';
import { actorOf, queryParam, type ApiContext } from './context.ts';
import { collectionQuery, query, routeSchema, TAGS, type ComponentId, type HostFileSystemWire, type HostMetricsWire } from './schemas/index.ts';

export function sysinfoRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { hostMetrics } = ctx.services;

  app.get('/ngp/metrics', {
    schema: routeSchema({
      tag: TAGS.system, summary: "The Census host's CPU, memory and file systems", permission: 'metrics.view', ngp: true,
      description: 'One object, as SPP\'s NodeJS layer answers it (not wrapped). `data` is the data directory\'s file system, `data2` the database\'s, ' +
        '`data3` the temporary directory\'s; a figure Census cannot measure is null.',
      querystring: query({}), ok: { 200: 'HostMetrics' }, errors: [403],
    }),
  }, async (req): Promise<HostMetricsWire> => hostMetrics.metrics(await actorOf(ctx, req)));

  app.get('/api/endeavour/sysdiag/filesystem', {
    schema: routeSchema({
      tag: TAGS.system, summary: 'The file systems Census keeps data on', permission: 'metrics.view',
      description: 'One entry each for the data directory (Configuration), the database (Catalog) and the temporary directory (System), SPP\'s names; ' +
        '`WARNING` above 90 % used. Paged like every collection.',
      querystring: collectionQuery({}, ['filter', 'sort']), ok: { 200: 'HostFileSystemList' }, errors: [400, 403],
    }),
  }, async (req) => {
    // A handful of entries, in a fixed order: paged (sppmon asks page by page), not filtered or sorted.
    const paging = parsePaging(queryParam(req, 'pageSize'), queryParam(req, 'pageStartIndex'));
    const all: HostFileSystemWire[] = await hostMetrics.filesystems(await actorOf(ctx, req));
    return envelope(req, 'filesystems', all.slice(paging.pageStartIndex, paging.pageStartIndex + paging.pageSize), all.length, paging);
  });

  /** A collection Census never fills: SPP's envelope, with the paging parameters read (and checked) all the same. */
  const empty = (path: string, key: string, list: ComponentId, permission: Permission, summary: string, ngp = false) =>
    app.get(path, {
      schema: routeSchema({
        tag: TAGS.system, summary, permission, ...(ngp ? { ngp } : {}),
        description: 'Always empty: Census keeps no backups and has no SLA policies. Filter, sort and paging are accepted (and checked).',
        querystring: collectionQuery(), ok: { 200: list }, errors: [400, 403],
      }),
    }, async (req: FastifyRequest) => {
      const { paging } = readCollectionQuery(req);
      return envelope(req, key, [], 0, paging);
    });

  empty('/api/storage', 'storages', 'StorageList', 'storage.view', 'Backup storage (none)');
  empty('/ngp/slapolicy', 'slapolicies', 'SlaPolicyList', 'storageprofile.view', 'SLA policies (none)', true);
  empty('/api/spec/storageprofile', 'storageprofiles', 'StorageProfileList', 'storageprofile.view', 'Storage profiles (none)');
}
