/**
 * Directory (LDAP) servers and their group mappings: /api/ldap (Census's shape, docs/compat.md
 * "Directory login"), on the directory service. The bind password is accepted and never answered.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { invalid } from '../core/errors.ts';
import type { DirectoryChanges, DirectoryInput, DirectoryView } from '../services/index.ts';
import { actorOf, bodyObject, idParam, queryParam, type ApiContext } from './context.ts';
import { baseUrl, link } from './links.ts';
import {
  answer, LdapMappingBody, LdapServerBody, LdapServerUpdateBody, noContent, pathParams, query, requestBody, routeSchema, TAGS,
  type LdapMappingWire, type LdapServerWire,
} from './schemas/index.ts';

type Body = Record<string, unknown>;

/** The settings a body may carry (anything else in it is ignored). */
const FIELDS = ['url', 'startTls', 'tlsVerify', 'caCert', 'bindDn', 'bindPassword', 'userBase', 'userFilter', 'usernameAttribute', 'groupBase', 'groupFilter', 'timeoutMs'] as const;

/** A body's settings: for a change, null stays null (it removes the setting); for a new one, null is "not given". */
function settingsOf(body: Body, change: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of FIELDS) {
    const v = body[k];
    if (v === undefined || (v === null && !change)) continue;
    // `""` is "not given" for a string setting, as elsewhere in the API; for a change it removes an optional one.
    out[k] = v === '' ? (change ? null : undefined) : v;
  }
  if (body.name !== undefined && body.name !== null) out.name = body.name;
  return Object.fromEntries(Object.entries(out).filter(([, v]) => v !== undefined));
}

/** The trailing id of an href, an `{id}`/`{href}` object, or an id itself; undefined if none. */
function refId(v: unknown): number | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  const raw = typeof v === 'object' ? ((v as Body).id ?? (v as Body).href) : v;
  const m = /^(?:.*\/)?(\d+)\/?$/.exec(String(raw ?? ''));
  return m ? Number(m[1]) : undefined;
}

export function ldapWire(base: string, d: DirectoryView): LdapServerWire {
  const self = `/api/ldap/${d.id}`;
  const c = d.config;
  return {
    links: {
      self: link(base, self, 'self'), up: link(base, '/api/ldap', 'up'), edit: link(base, self, 'update'), delete: link(base, self, 'delete'),
      test: link(base, `${self}?action=test`, 'action', 'Test the connection'), mapping: link(base, `${self}/mapping`, 'related'),
    },
    id: String(d.id), name: d.name, url: c.url, startTls: c.startTls, tlsVerify: c.tlsVerify, caCert: c.caCert ?? null, bindDn: c.bindDn,
    userBase: c.userBase, userFilter: c.userFilter, usernameAttribute: c.usernameAttribute ?? 'uid',
    groupBase: c.groupBase ?? null, groupFilter: c.groupFilter ?? null, timeoutMs: c.timeoutMs ?? 10_000, createdAt: d.createdAt,
  };
}

export function ldapRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { directories } = ctx.services;
  const LDAP_ID = pathParams({ id: 'Directory id.' });
  const MAPPING_ID = pathParams({ id: 'Directory id.', mappingId: 'Mapping id.' });

  async function mappingsOut(req: FastifyRequest, id: number): Promise<LdapMappingWire[]> {
    const actor = await actorOf(ctx, req);
    const base = baseUrl(req);
    // The names of roles and groups, for the answer (the built-in ones included).
    const roles = new Map((await ctx.services.roles.list(actor)).map((r) => [r.id, r.name]));
    const pools = new Map((await ctx.services.resourcePools.list(actor)).map((p) => [p.id, p.name]));
    return (await directories.mappings(actor, id)).map((m) => {
      const self = `/api/ldap/${id}/mapping/${m.id}`;
      return {
        links: { self: link(base, self, 'self'), up: link(base, `/api/ldap/${id}/mapping`, 'up'), delete: link(base, self, 'delete') },
        id: String(m.id), ldapServerId: String(id), groupDn: m.groupDn,
        role: { id: String(m.roleId), name: roles.get(m.roleId) ?? null, href: `${base}/api/security/role/${m.roleId}` },
        resourcePool: { id: String(m.poolId), name: pools.get(m.poolId) ?? null, href: `${base}/api/security/resourcepool/${m.poolId}` },
      };
    });
  }

  app.get('/api/ldap', {
    schema: routeSchema({ tag: TAGS.security, summary: 'List directory (LDAP) servers', permission: 'ldap.view', ok: { 200: 'LdapServerList' }, errors: [403] }),
  }, async (req) => {
    const all = await directories.list(await actorOf(ctx, req));
    const base = baseUrl(req);
    return { links: { self: link(base, '/api/ldap', 'self'), create: link(base, '/api/ldap', 'create') }, total: all.length, page: 1, ldapServers: all.map((d) => ldapWire(base, d)) };
  });

  app.post('/api/ldap', {
    schema: routeSchema({
      tag: TAGS.security, summary: 'Register a directory (LDAP) server', permission: 'ldap.edit',
      description: 'Checked before it is stored (no connection is made: see `?action=test`). `ldap://` needs StartTLS; the bind password is sealed and never shown.',
      body: requestBody(LdapServerBody, { required: true }), ok: { 201: answer('LdapServer', 'The new directory.') }, errors: [400, 403, 409],
    }),
  }, async (req, reply) => {
    const made = await directories.register(await actorOf(ctx, req), settingsOf(bodyObject(req), false) as unknown as DirectoryInput);
    return reply.code(201).header('location', `${baseUrl(req)}/api/ldap/${made.id}`).send(ldapWire(baseUrl(req), made));
  });

  app.get('/api/ldap/:id', {
    schema: routeSchema({ tag: TAGS.security, summary: 'Get a directory (LDAP) server', permission: 'ldap.view', params: LDAP_ID, ok: { 200: 'LdapServer' }, errors: [400, 403, 404] }),
  }, async (req) => ldapWire(baseUrl(req), await directories.get(await actorOf(ctx, req), idParam(req))));

  app.put('/api/ldap/:id', {
    schema: routeSchema({
      tag: TAGS.security, summary: 'Change a directory (LDAP) server', permission: 'ldap.edit', params: LDAP_ID,
      description: 'What is given changes; null removes an optional setting. Changing `url`, `startTls`, `tlsVerify` or `caCert` needs `bindPassword` again.',
      body: requestBody(LdapServerUpdateBody, { required: true }), ok: { 200: 'LdapServer' }, errors: [400, 403, 404, 409],
    }),
  }, async (req) => {
    const changed = await directories.update(await actorOf(ctx, req), idParam(req), settingsOf(bodyObject(req), true) as DirectoryChanges);
    return ldapWire(baseUrl(req), changed);
  });

  app.delete('/api/ldap/:id', {
    schema: routeSchema({
      tag: TAGS.security, summary: 'Remove a directory (LDAP) server', permission: 'ldap.edit', params: LDAP_ID,
      description: 'Removes its group mappings and the users it made (their sessions end). Refused (400) when no enabled user could manage users afterwards.',
      ok: { 204: noContent('Removed.') }, errors: [400, 403, 404],
    }),
  }, async (req, reply) => {
    await directories.delete(await actorOf(ctx, req), idParam(req));
    return reply.code(204).send();
  });

  app.post('/api/ldap/:id', {
    schema: routeSchema({
      tag: TAGS.security, summary: 'Test a directory (LDAP) server', permission: { action: { test: 'ldap.edit' } }, params: LDAP_ID,
      description: '`?action=test`: connects, sets up TLS, binds as the service account and reads the user and group bases; each check SUCCESS, FAILED, WARNING or SKIPPED.',
      querystring: query({ action: '`test`.' }), ok: { 200: 'LdapTestResult' }, errors: [400, 403, 404],
    }),
  }, async (req) => {
    const action = queryParam(req, 'action');
    if (action !== 'test') throw invalid(`Unknown directory action ${JSON.stringify(action ?? null)}; use ?action=test.`);
    return directories.test(await actorOf(ctx, req), idParam(req));
  });

  app.get('/api/ldap/:id/mapping', {
    schema: routeSchema({ tag: TAGS.security, summary: "List a directory's group mappings", permission: 'ldap.view', params: LDAP_ID, ok: { 200: 'LdapMappingList' }, errors: [400, 403, 404] }),
  }, async (req) => {
    const id = idParam(req);
    const all = await mappingsOut(req, id);
    const base = baseUrl(req);
    return {
      links: { self: link(base, `/api/ldap/${id}/mapping`, 'self'), up: link(base, `/api/ldap/${id}`, 'up'), create: link(base, `/api/ldap/${id}/mapping`, 'create') },
      total: all.length, page: 1, mappings: all,
    };
  });

  app.post('/api/ldap/:id/mapping', {
    schema: routeSchema({
      tag: TAGS.security, summary: 'Map a directory group to a permission set', permission: 'ldap.edit', params: LDAP_ID,
      description: "Members of the group hold the role on the resource group, from their next login on (a login replaces a directory user's permission sets with those of the groups they are in).",
      body: requestBody(LdapMappingBody, { required: true }), ok: { 201: answer('LdapMapping', 'The new mapping.') }, errors: [400, 403, 404, 409],
    }),
  }, async (req, reply) => {
    const id = idParam(req);
    const body = bodyObject(req);
    const roleId = refId(body.roleId ?? body.role);
    const poolId = refId(body.resourcePoolId ?? body.resourcePool);
    if (roleId === undefined) throw invalid('A mapping names a role: "roleId" (or "role" as {id} or {href}).', 'directory.role');
    if (poolId === undefined) throw invalid('A mapping names a resource group: "resourcePoolId" (or "resourcePool" as {id} or {href}).', 'directory.resourcepool');
    const m = await directories.addMapping(await actorOf(ctx, req), id, { groupDn: body.groupDn as string, roleId, poolId });
    const wire = (await mappingsOut(req, id)).find((w) => w.id === String(m.id))!;
    return reply.code(201).header('location', `${baseUrl(req)}/api/ldap/${id}/mapping/${m.id}`).send(wire);
  });

  app.delete('/api/ldap/:id/mapping/:mappingId', {
    schema: routeSchema({
      tag: TAGS.security, summary: 'Remove a directory group mapping', permission: 'ldap.edit', params: MAPPING_ID,
      description: 'Users keep the permission sets it gave them until their next login.', ok: { 204: noContent('Removed.') }, errors: [400, 403, 404],
    }),
  }, async (req, reply) => {
    await directories.deleteMapping(await actorOf(ctx, req), idParam(req), idParam(req, 'mappingId'));
    return reply.code(204).send();
  });
}
