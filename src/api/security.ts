/**
 * Users, roles, resource groups and the permission list (spec §11.1): /api/security/*, on the
 * user, role and resource group services. What SPP's wire leaves open is in docs/compat.md.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Actor } from '../core/actor.ts';
import { invalid } from '../core/errors.ts';
import { isScoped, PERMISSIONS, PERMISSION_IDS, type PermissionSet, type PoolResource, type ResourcePool, type Role } from '../core/permissions.ts';
import type { User } from '../core/types.ts';
import type { UserView } from '../services/index.ts';
import { actorOf, bodyObject, idParam, queryParam, type ApiContext } from './context.ts';
import { baseUrl, link } from './links.ts';
import {
  answer, ChangePasswordBody, noContent, pathParams, query, requestBody, ResourcePoolBody, ResourcePoolUpdateBody, RoleBody, RoleUpdateBody,
  routeSchema, TAGS, UserBody, UserUpdateBody, type LoginUserWire, type ResourcePoolWire, type RoleWire,
} from './schemas/index.ts';
import { TENANT_ID } from './wire.ts';

type Body = Record<string, unknown>;

/** The trailing id of an href, an `{id}`/`{href}` object, or an id itself; undefined if none. */
function refId(v: unknown): number | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  const raw = typeof v === 'object' ? ((v as Body).id ?? (v as Body).href) : v;
  const m = /(\d+)\/?$/.exec(String(raw ?? ''));
  return m ? Number(m[1]) : undefined;
}

/** SPP's permission sets on the wire → the service's: one per (role, group). */
function permissionSets(raw: unknown): PermissionSet[] | undefined {
  if (raw === undefined) return undefined;
  const sets: PermissionSet[] = [];
  for (const [i, entry] of (raw as Body[]).entries()) {
    const poolId = refId(entry.resourcePoolId ?? entry.resourcePool);
    if (poolId === undefined) throw invalid(`permissions[${i}] names no resource group ("resourcePoolId").`);
    const roles = [...((entry.roleIds as unknown[] | undefined) ?? []), ...((entry.roles as unknown[] | undefined) ?? [])];
    if (!roles.length) throw invalid(`permissions[${i}] names no role ("roleIds").`);
    for (const r of roles) {
      const roleId = refId(r);
      if (roleId === undefined) throw invalid(`permissions[${i}] has a role that is not an id or href: ${JSON.stringify(r)}.`);
      sets.push({ roleId, poolId });
    }
  }
  return sets;
}

/** A resource on the wire → the group's: one server by its href, or every server. */
function poolResource(v: unknown, i: number): PoolResource {
  const href = typeof v === 'string' ? v : String((v as Body).href ?? '');
  // A hypervisor is a registered server like an application server (one id space): a group holds either by id.
  const m = /\/api\/(?:appserver(?:\/(\d+))?|hypervisor\/(\d+))\/?$/.exec(href);
  if (!m) throw invalid(`resources[${i}] must be an application server's or hypervisor's href (".../api/appserver/ID", ".../api/hypervisor/ID") or ".../api/appserver" for all of them.`);
  const id = m[1] ?? m[2];
  return id ? { kind: 'appserver', id: Number(id) } : { kind: 'appserver.all' };
}

export function roleWire(base: string, r: Role): RoleWire {
  const self = `/api/security/role/${r.id}`;
  return {
    links: {
      self: link(base, self, 'self'), up: link(base, '/api/security/role', 'up'),
      ...(r.builtIn ? {} : { edit: link(base, self, 'update'), delete: link(base, self, 'delete') }),
    },
    id: String(r.id), name: r.name, description: r.description, type: r.builtIn ? 'BUILTIN' : 'CUSTOM', displayName: r.name,
    rbacPath: `role:0/role:${r.id}`, permissionIds: [...r.permissionIds],
  };
}

export function poolWire(base: string, p: ResourcePool, names: ReadonlyMap<number, string>, hypervisors: ReadonlySet<number> = new Set()): ResourcePoolWire {
  const self = `/api/security/resourcepool/${p.id}`;
  return {
    links: {
      self: link(base, self, 'self'), up: link(base, '/api/security/resourcepool', 'up'),
      ...(p.builtIn ? {} : { edit: link(base, self, 'update'), delete: link(base, self, 'delete') }),
    },
    id: String(p.id), name: p.name, description: p.description, type: p.builtIn ? 'BUILTIN' : 'CUSTOM', rbacPath: `resourcepool:0/resourcepool:${p.id}`,
    resources: p.resources.map((r) => (r.kind === 'appserver.all'
      ? { href: `${base}/api/appserver`, type: 'appserver.all' }
      : { href: `${base}/api/${hypervisors.has(r.id) ? 'hypervisor' : 'appserver'}/${r.id}`, type: hypervisors.has(r.id) ? 'hypervisor' : 'appserver', id: String(r.id), ...(names.has(r.id) ? { name: names.get(r.id)! } : {}) })),
  };
}

/**
 * A user in the shape a login answers with (the SPP UI reads these fields), with the permission
 * sets they hold as SPP shows them: one entry per resource group, with its roles.
 */
export function userWire(base: string, u: User, sets: readonly PermissionSet[] = [], roles: ReadonlyMap<number, Role> = new Map(), pools: ReadonlyMap<number, ResourcePool> = new Map()): LoginUserWire {
  const byPool = new Map<number, number[]>();
  for (const s of sets) byPool.set(s.poolId, [...(byPool.get(s.poolId) ?? []), s.roleId]);
  return {
    links: {
      self: link(base, `/api/security/user/${u.id}`, 'self'),
      up: link(base, '/api/security/user', 'up'),
      changePassword: link(base, `/api/security/user/${u.id}?action=changePassword`, 'action', 'Change password'),
    },
    id: String(u.id),
    name: u.name,
    type: u.type,
    typeDisplayName: u.type === 'LDAP_USER' ? 'LDAP User' : 'Native User',
    tenantId: TENANT_ID,
    rbacPath: `user:0/user:${u.id}`,
    permissions: [...byPool].map(([poolId, roleIds]) => ({
      resourcePool: { id: String(poolId), name: pools.get(poolId)?.name ?? null, href: `${base}/api/security/resourcepool/${poolId}` },
      roles: roleIds.map((id) => ({ id: String(id), name: roles.get(id)?.name ?? null, href: `${base}/api/security/role/${id}` })),
    })),
    metadata: {},
    loginCount: u.loginCount,
    lastLogin: u.lastLogin,
    failedLogin: u.failedLogin,
    lastFailedLogin: u.lastFailedLogin,
    lastPasswordUpdate: u.lastPasswordUpdate,
    passwordAge: 0,
    passwordExpiresAt: 0,
    passwordExpired: u.passwordExpired,
    accountDisabled: u.disabled,
    accountLocked: false,
  };
}

/** A user on the wire with the names of their roles and groups (read for this answer). */
export async function userAnswer(ctx: ApiContext, actor: Actor, base: string, v: UserView): Promise<LoginUserWire> {
  const roles = new Map((await ctx.services.roles.list(actor)).map((r) => [r.id, r]));
  const pools = new Map((await ctx.services.resourcePools.list(actor)).map((p) => [p.id, p]));
  return userWire(base, v.user, v.permissions, roles, pools);
}

export function securityRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { users, roles, resourcePools } = ctx.services;

  /** Names of roles and groups for the users' wire, read once per answer. */
  async function names(req: FastifyRequest) {
    const actor = await actorOf(ctx, req);
    return {
      roles: new Map((await roles.list(actor)).map((r) => [r.id, r])),
      pools: new Map((await resourcePools.list(actor)).map((p) => [p.id, p])),
    };
  }
  const userOut = async (req: FastifyRequest, v: UserView) => userAnswer(ctx, await actorOf(ctx, req), baseUrl(req), v);
  /** The names of the servers the caller sees, and which of them are hypervisors (their hrefs differ). */
  const serverNames = async (req: FastifyRequest): Promise<[Map<number, string>, Set<number>]> => {
    const actor = await actorOf(ctx, req);
    const all = { where: [], order: [], limit: 100_000, offset: 0 };
    const apps = (await ctx.services.appservers.list(actor, all)).items;
    const hvs = (await ctx.services.hypervisors.list(actor, all)).items;
    return [new Map([...apps, ...hvs].map((a) => [a.id, a.name])), new Set(hvs.map((h) => h.id))];
  };

  const USER_ID = pathParams({ id: 'User id.' });
  const ROLE_ID = pathParams({ id: 'Role id.' });
  const POOL_ID = pathParams({ id: 'Resource group id.' });

  // ---- the caller ----
  app.get('/api/endeavour/session', {
    schema: routeSchema({
      tag: TAGS.login, summary: "The session's user and what they may do (a Census addition)", permission: 'session',
      description: 'The user of the session (or API key) and the permissions they hold, so that a UI shows only what they may do.',
      ok: { 200: 'SessionUser' },
    }),
  }, async (req) => {
    const actor = await actorOf(ctx, req);
    const p = req.principal!;
    return { user: await userOut(req, await users.get(actor, p.userId)), permissionIds: p.access.held() };
  });

  // ---- users ----
  app.get('/api/security/user', {
    schema: routeSchema({ tag: TAGS.security, summary: 'List users', permission: 'user.view', ok: { 200: 'UserList' }, errors: [403] }),
  }, async (req) => {
    const all = await users.list(await actorOf(ctx, req));
    const n = await names(req);
    const base = baseUrl(req);
    return {
      links: { self: link(base, '/api/security/user', 'self'), up: link(base, '/api/security', 'up'), create: link(base, '/api/security/user', 'create') },
      total: all.length, page: 1, users: all.map((v) => userWire(base, v.user, v.permissions, n.roles, n.pools)),
    };
  });

  app.post('/api/security/user', {
    schema: routeSchema({
      tag: TAGS.security, summary: 'Create a user', permission: 'user.create',
      description: 'A native user with a password they must change at the first login, and the permission sets they hold.',
      body: requestBody(UserBody, { required: true }), ok: { 201: answer('LoginUser', 'The new user.') }, errors: [400, 403, 409],
    }),
  }, async (req, reply) => {
    const body = bodyObject(req);
    const made = await users.create(await actorOf(ctx, req), {
      name: body.name as string, password: body.password as string, permissions: permissionSets(body.permissions) ?? [],
    });
    return reply.code(201).header('location', `${baseUrl(req)}/api/security/user/${made.user.id}`).send(await userOut(req, made));
  });

  app.get('/api/security/user/:id', {
    schema: routeSchema({ tag: TAGS.security, summary: 'Get a user', permission: 'user.view', params: USER_ID, ok: { 200: 'LoginUser' }, errors: [400, 403, 404] }),
  }, async (req) => userOut(req, await users.get(await actorOf(ctx, req), idParam(req))));

  app.put('/api/security/user/:id', {
    schema: routeSchema({
      tag: TAGS.security, summary: 'Change a user', permission: 'user.edit', params: USER_ID,
      description: 'Rename, disable or enable, replace the permission sets, or set a password the user must change. Refused (400) when no enabled user could manage users afterwards.',
      body: requestBody(UserUpdateBody, { required: true }), ok: { 200: 'LoginUser' }, errors: [400, 403, 404, 409],
    }),
  }, async (req) => {
    const body = bodyObject(req);
    const sets = permissionSets(body.permissions);
    const changed = await users.update(await actorOf(ctx, req), idParam(req), {
      ...(body.name !== undefined ? { name: body.name as string } : {}),
      ...(body.accountDisabled !== undefined ? { disabled: body.accountDisabled as boolean } : {}),
      ...(body.password !== undefined ? { password: body.password as string } : {}),
      ...(sets ? { permissions: sets } : {}),
    });
    return userOut(req, changed);
  });

  app.delete('/api/security/user/:id', {
    schema: routeSchema({
      tag: TAGS.security, summary: 'Delete a user', permission: 'user.delete', params: USER_ID,
      description: 'Ends their sessions and revokes their API keys. Refused (400) for the last enabled user who can manage users.',
      ok: { 204: noContent('Deleted.') }, errors: [400, 403, 404],
    }),
  }, async (req, reply) => {
    await users.delete(await actorOf(ctx, req), idParam(req));
    return reply.code(204).send();
  });

  app.post('/api/security/user/:id', {
    schema: routeSchema({
      tag: TAGS.security, summary: "Change a user's password", permission: { action: { changePassword: 'session' } }, params: USER_ID,
      description: '`?action=changePassword` with `{oldPassword, newPassword}`: a user changes their own; changing someone else\'s needs `user.edit` as well. Ends the user\'s other sessions.',
      querystring: query({ action: '`changePassword`.' }),
      body: requestBody(ChangePasswordBody, { required: true }), ok: { 204: noContent('Changed.') }, errors: [400, 403, 404],
    }),
  }, async (req, reply) => {
    const action = queryParam(req, 'action');
    if (action !== 'changePassword') throw invalid(`Unknown user action ${JSON.stringify(action ?? null)}; use ?action=changePassword.`);
    const body = bodyObject(req);
    await users.changePassword(await actorOf(ctx, req), idParam(req), body.oldPassword as string, body.newPassword as string, req.principal?.sessionId);
    return reply.code(204).send();
  });

  // ---- roles ----
  app.get('/api/security/role', {
    schema: routeSchema({ tag: TAGS.security, summary: 'List roles', permission: 'role.view', ok: { 200: 'RoleList' }, errors: [403] }),
  }, async (req) => {
    const all = await roles.list(await actorOf(ctx, req));
    const base = baseUrl(req);
    return {
      links: { self: link(base, '/api/security/role', 'self'), up: link(base, '/api/security', 'up'), create: link(base, '/api/security/role', 'create') },
      total: all.length, page: 1, roles: all.map((r) => roleWire(base, r)),
    };
  });

  app.post('/api/security/role', {
    schema: routeSchema({
      tag: TAGS.security, summary: 'Create a role', permission: 'role.create',
      body: requestBody(RoleBody, { required: true }), ok: { 201: answer('Role', 'The new role.') }, errors: [400, 403, 409],
    }),
  }, async (req, reply) => {
    const body = bodyObject(req);
    const r = await roles.create(await actorOf(ctx, req), {
      name: body.name as string, permissionIds: body.permissionIds as string[], ...(body.description !== undefined ? { description: body.description as string } : {}),
    });
    return reply.code(201).header('location', `${baseUrl(req)}/api/security/role/${r.id}`).send(roleWire(baseUrl(req), r));
  });

  app.get('/api/security/role/:id', {
    schema: routeSchema({ tag: TAGS.security, summary: 'Get a role', permission: 'role.view', params: ROLE_ID, ok: { 200: 'Role' }, errors: [400, 403, 404] }),
  }, async (req) => roleWire(baseUrl(req), await roles.get(await actorOf(ctx, req), idParam(req))));

  app.put('/api/security/role/:id', {
    schema: routeSchema({
      tag: TAGS.security, summary: 'Change a role', permission: 'role.edit', params: ROLE_ID,
      description: '`permissionIds` replaces what the role holds. Built-in roles cannot change (400).',
      body: requestBody(RoleUpdateBody, { required: true }), ok: { 200: 'Role' }, errors: [400, 403, 404, 409],
    }),
  }, async (req) => {
    const body = bodyObject(req);
    const r = await roles.update(await actorOf(ctx, req), idParam(req), {
      ...(body.name !== undefined ? { name: body.name as string } : {}),
      ...(body.description !== undefined ? { description: body.description as string } : {}),
      ...(body.permissionIds !== undefined ? { permissionIds: body.permissionIds as string[] } : {}),
    });
    return roleWire(baseUrl(req), r);
  });

  app.delete('/api/security/role/:id', {
    schema: routeSchema({
      tag: TAGS.security, summary: 'Delete a role', permission: 'role.delete', params: ROLE_ID,
      description: 'Built-in roles cannot be deleted (400); a role a user holds is 409.', ok: { 204: noContent('Deleted.') }, errors: [400, 403, 404, 409],
    }),
  }, async (req, reply) => {
    await roles.delete(await actorOf(ctx, req), idParam(req));
    return reply.code(204).send();
  });

  app.get('/api/security/permission', {
    schema: routeSchema({ tag: TAGS.security, summary: 'List the permissions roles can hold (a Census addition)', permission: 'role.view', ok: { 200: 'PermissionList' }, errors: [403] }),
  }, async (req) => {
    const base = baseUrl(req);
    return {
      links: { self: link(base, '/api/security/permission', 'self'), up: link(base, '/api/security', 'up') },
      total: PERMISSION_IDS.length, page: 1,
      permissions: PERMISSION_IDS.map((id) => ({ id, description: PERMISSIONS[id], scoped: isScoped(id) })),
    };
  });

  // ---- resource groups ----
  app.get('/api/security/resourcepool', {
    schema: routeSchema({ tag: TAGS.security, summary: 'List resource groups', permission: 'resourcepool.view', ok: { 200: 'ResourcePoolList' }, errors: [403] }),
  }, async (req) => {
    const all = await resourcePools.list(await actorOf(ctx, req));
    const base = baseUrl(req);
    const n = await serverNames(req);
    return {
      links: { self: link(base, '/api/security/resourcepool', 'self'), up: link(base, '/api/security', 'up'), create: link(base, '/api/security/resourcepool', 'create') },
      total: all.length, page: 1, resourcePools: all.map((p) => poolWire(base, p, ...n)),
    };
  });

  const poolInput = (body: Body) => ({
    ...(body.name !== undefined ? { name: body.name as string } : {}),
    ...(body.description !== undefined ? { description: body.description as string } : {}),
    ...(body.resources !== undefined ? { resources: (body.resources as unknown[]).map(poolResource) } : {}),
  });

  app.post('/api/security/resourcepool', {
    schema: routeSchema({
      tag: TAGS.security, summary: 'Create a resource group', permission: 'resourcepool.create',
      body: requestBody(ResourcePoolBody, { required: true }), ok: { 201: answer('ResourcePool', 'The new resource group.') }, errors: [400, 403, 409],
    }),
  }, async (req, reply) => {
    const input = poolInput(bodyObject(req));
    const p = await resourcePools.create(await actorOf(ctx, req), { name: input.name!, resources: input.resources!, ...(input.description !== undefined ? { description: input.description } : {}) });
    return reply.code(201).header('location', `${baseUrl(req)}/api/security/resourcepool/${p.id}`).send(poolWire(baseUrl(req), p, ...(await serverNames(req))));
  });

  app.get('/api/security/resourcepool/:id', {
    schema: routeSchema({ tag: TAGS.security, summary: 'Get a resource group', permission: 'resourcepool.view', params: POOL_ID, ok: { 200: 'ResourcePool' }, errors: [400, 403, 404] }),
  }, async (req) => poolWire(baseUrl(req), await resourcePools.get(await actorOf(ctx, req), idParam(req)), ...(await serverNames(req))));

  app.put('/api/security/resourcepool/:id', {
    schema: routeSchema({
      tag: TAGS.security, summary: 'Change a resource group', permission: 'resourcepool.edit', params: POOL_ID,
      description: '`resources` replaces what the group holds. All Resources cannot change (400).',
      body: requestBody(ResourcePoolUpdateBody, { required: true }), ok: { 200: 'ResourcePool' }, errors: [400, 403, 404, 409],
    }),
  }, async (req) => {
    const p = await resourcePools.update(await actorOf(ctx, req), idParam(req), poolInput(bodyObject(req)));
    return poolWire(baseUrl(req), p, ...(await serverNames(req)));
  });

  app.delete('/api/security/resourcepool/:id', {
    schema: routeSchema({
      tag: TAGS.security, summary: 'Delete a resource group', permission: 'resourcepool.delete', params: POOL_ID,
      description: 'All Resources cannot be deleted (400); a group a user holds is 409.', ok: { 204: noContent('Deleted.') }, errors: [400, 403, 404, 409],
    }),
  }, async (req, reply) => {
    await resourcePools.delete(await actorOf(ctx, req), idParam(req));
    return reply.code(204).send();
  });
}
