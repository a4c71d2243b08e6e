/**
 * Sites (spec §11.3, docs/sites.md): /api/site, SPP's list with paging, filter and sort, and
 * create, get, change, delete. Errors of these routes carry SPP's `{id, description}` and also
 * `response` (src/api/server.ts): SPP's createsite.py prints an error's `response`.
 */
import type { FastifyInstance } from 'fastify';
import { INT32_MAX, type FieldMap } from '../core/query.ts';
import type { Site } from '../core/sites.ts';
import type { SiteChanges } from '../services/index.ts';
import { envelope, readCollectionQuery, toListQuery } from './collection.ts';
import { actorOf, bodyObject, idParam, type ApiContext } from './context.ts';
import { bool, str, type Body } from './input.ts';
import { baseUrl, link } from './links.ts';
import { answer, collectionQuery, noContent, pathParams, requestBody, routeSchema, SiteBody, SiteUpdateBody, TAGS, type SiteWire } from './schemas/index.ts';

const SITE_FIELDS: FieldMap = {
  id: { column: 'id', type: 'number', max: INT32_MAX }, name: { column: 'name', type: 'string' },
  description: { column: 'description', type: 'string' }, defaultSite: { column: 'defaultSite', type: 'boolean' },
};

export function siteWire(base: string, s: Site): SiteWire {
  const self = `/api/site/${s.id}`;
  return {
    links: {
      self: link(base, self, 'self'), up: link(base, '/api/site', 'up'), edit: link(base, self, 'update'),
      ...(s.defaultSite ? {} : { delete: link(base, self, 'delete') }),
    },
    id: String(s.id),
    name: s.name,
    description: s.description,
    defaultSite: s.defaultSite,
    throttles: [],
    allowAnyWorker: s.allowAnyWorker,
    rbacPath: `site:0/site:${s.id}`,
  };
}

function changes(body: Body): SiteChanges {
  const has = (k: string) => body[k] !== undefined && body[k] !== null;
  return {
    ...(has('name') ? { name: str(body, 'name', { max: 128 })! } : {}),
    ...(has('description') ? { description: str(body, 'description', { max: 2000 })! } : {}),
    ...(has('defaultSite') ? { defaultSite: bool(body, 'defaultSite', false) } : {}),
    ...(has('allowAnyWorker') ? { allowAnyWorker: bool(body, 'allowAnyWorker', false) } : {}),
  };
}

export function siteRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { sites } = ctx.services;
  const ID = pathParams({ id: 'Site id.' });

  app.get('/api/site', {
    schema: routeSchema({
      tag: TAGS.sites, ngp: true, summary: 'List sites', permission: 'site.view',
      description: 'Filter properties: id, name, description, defaultSite.', querystring: collectionQuery(), ok: { 200: 'SiteList' }, errors: [400, 403],
    }),
  }, async (req) => {
    const cq = readCollectionQuery(req);
    const page = await sites.list(await actorOf(ctx, req), toListQuery(cq, SITE_FIELDS, [{ property: 'id', direction: 'ASC' }]));
    const base = baseUrl(req);
    return envelope(req, 'sites', page.items.map((s) => siteWire(base, s)), page.total, cq.paging, { create: link(base, '/api/site', 'create') });
  });

  app.post('/api/site', {
    schema: routeSchema({
      tag: TAGS.sites, ngp: true, summary: 'Create a site', permission: 'site.create',
      description: 'Names are unique regardless of case (409). `defaultSite` can only be false: site 1000 stays the default.',
      body: requestBody(SiteBody, { required: true }), ok: { 201: answer('Site', 'The new site.') }, headers: { location: 'URL of the new site.' },
      errors: [400, 403, 409],
    }),
  }, async (req, reply) => {
    const body = bodyObject(req);
    const c = changes(body);
    const made = await sites.create(await actorOf(ctx, req), { ...c, name: c.name ?? '' });
    const base = baseUrl(req);
    return reply.code(201).header('location', `${base}/api/site/${made.id}`).send(siteWire(base, made));
  });

  app.get('/api/site/:id', {
    schema: routeSchema({ tag: TAGS.sites, ngp: true, summary: 'Get a site', permission: 'site.view', params: ID, ok: { 200: 'Site' }, errors: [400, 403, 404] }),
  }, async (req) => siteWire(baseUrl(req), await sites.get(await actorOf(ctx, req), idParam(req))));

  app.put('/api/site/:id', {
    schema: routeSchema({
      tag: TAGS.sites, ngp: true, summary: 'Change a site', permission: 'site.edit', params: ID,
      description: 'Rename it, change its description, or let any worker take its tasks while it has no live worker (`allowAnyWorker`; waiting tasks follow at once).',
      body: requestBody(SiteUpdateBody, { required: true }), ok: { 200: 'Site' }, errors: [400, 403, 404, 409],
    }),
  }, async (req) => siteWire(baseUrl(req), await sites.update(await actorOf(ctx, req), idParam(req), changes(bodyObject(req)))));

  app.delete('/api/site/:id', {
    schema: routeSchema({
      tag: TAGS.sites, ngp: true, summary: 'Delete a site', permission: 'site.delete', params: ID,
      description: 'Refused for the default site (400), and while servers or running workers belong to it (409, naming them).',
      ok: { 204: noContent('Deleted.') }, errors: [400, 403, 404, 409],
    }),
  }, async (req, reply) => {
    await sites.delete(await actorOf(ctx, req), idParam(req));
    return reply.code(204).send();
  });
}
