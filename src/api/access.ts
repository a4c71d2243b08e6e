/**
 * Who may call a route is a property of the route, fixed when it is added: its schema's
 * `security` (the same list the OpenAPI document shows) says public (`[]`, or Basic only for the
 * login), a login session (the document's default), or a session or the metrics token. The
 * login check asks the route that matched a request, so no spelling of a URL can reach a route
 * under another route's rule, and a new route needs a session unless it says otherwise.
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyContextConfig, FastifyInstance, FastifyRequest } from 'fastify';
import { forbidden } from '../core/errors.ts';
import type { Access as HeldAccess, Permission } from '../core/permissions.ts';
import type { RoutePermission } from './schemas/index.ts';
import { DOCS_PREFIX } from './openapi.ts';

export type Access = 'public' | 'session' | 'session-or-token';

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: Access;
    /** What a logged-in caller needs (the schema's `x-permission`); absent on public routes. */
    permission?: RoutePermission;
  }
}

type Requirement = Record<string, unknown>;

function accessOf(url: string, schema: unknown): Access {
  // Swagger UI's pages and files, added by its plugin without a schema of ours.
  if (url === DOCS_PREFIX || url.startsWith(`${DOCS_PREFIX}/`)) return 'public';
  const security = (schema as { security?: Requirement[] } | undefined)?.security;
  if (!Array.isArray(security)) return 'session';
  if (security.some((r) => 'metricsToken' in r)) return 'session-or-token';
  return security.some((r) => 'sessionid' in r) ? 'session' : 'public';
}

/**
 * Records each route's access and permission in its config as the route is added (call before
 * any route). A route that needs a session but names no permission is a mistake caught at start:
 * every route says what it needs, so no route is open to every user by being forgotten.
 */
export function markAccess(app: FastifyInstance): void {
  app.addHook('onRoute', (route) => {
    const how = accessOf(route.url, route.schema);
    const permission = (route.schema as { 'x-permission'?: RoutePermission } | undefined)?.['x-permission'];
    if (how !== 'public' && permission === undefined) throw new Error(`${[route.method].flat().join(',')} ${route.url} needs a session but declares no permission (routeSchema's \`permission\`)`);
    route.config = { ...(route.config as object | undefined), access: how, ...(permission !== undefined ? { permission } : {}) };
  });
}

/**
 * The one place a route's permission is checked: after the session, before the handler. An
 * `?action=` the route does not list needs what its first action needs (the handler then answers
 * the unknown action with a 400 to whoever may call the route at all).
 */
export function checkPermission(req: FastifyRequest, held: HeldAccess, config: RouteAccess | undefined = req.routeOptions.config): void {
  const missing = missingPermission(held, config?.permission, (req.query as Record<string, unknown> | undefined)?.action);
  if (missing) throw forbidden(`This needs the permission ${missing}, which the user's roles do not give.`, 'permission.missing');
}

/**
 * What `held` lacks of what a route needs (undefined: nothing), `action` being the request's
 * `?action=` (the last one given). checkPermission's rule; the fast lane asks it too.
 */
export function missingPermission(held: HeldAccess, need: RoutePermission | undefined, action?: unknown): Permission | undefined {
  if (need === undefined || need === 'session') return undefined;
  let p: Permission | 'session';
  if (typeof need === 'string') p = need;
  else {
    const name = Array.isArray(action) ? action[action.length - 1] : action;
    p = (typeof name === 'string' && Object.hasOwn(need.action, name) ? need.action[name] : Object.values(need.action)[0])!;
  }
  return p !== 'session' && !held.can(p) ? p : undefined;
}

/** What markAccess put in a route's config. */
export type RouteAccess = Pick<FastifyContextConfig, 'access' | 'permission'>;

/**
 * The access of the route a request matched; a request that matched none needs a session.
 * `config` is the matched route's (`req.routeOptions.config`): the login hook reads it once and
 * passes it here and to checkPermission, since Fastify builds the whole routeOptions object
 * afresh on every read of it.
 */
export const access = (req: FastifyRequest, config: RouteAccess | undefined = req.routeOptions.config): Access => config?.access ?? 'session';

/** `Authorization: Bearer <token>` equal to the configured metrics token (compared in constant time). */
export function metricsTokenMatches(req: FastifyRequest, token: string | undefined): boolean {
  if (!token) return false;
  const m = /^\s*Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
  if (!m) return false;
  const given = Buffer.from(m[1]!);
  const wanted = Buffer.from(token);
  return given.length === wanted.length && timingSafeEqual(given, wanted);
}
