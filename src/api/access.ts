/**
 * Who may call a route is a property of the route, fixed when it is added: its schema's
 * `security` (the same list the OpenAPI document shows) says public (`[]`, or Basic only for the
 * login), a login session (the document's default), or a session or the metrics token. The
 * login check asks the route that matched a request, so no spelling of a URL can reach a route
 * under another route's rule, and a new route needs a session unless it says otherwise.
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { DOCS_PREFIX } from './openapi.ts';

export type Access = 'public' | 'session' | 'session-or-token';

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: Access;
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

/** Records each route's access in its config as the route is added (call before any route). */
export function markAccess(app: FastifyInstance): void {
  app.addHook('onRoute', (route) => {
    route.config = { ...(route.config as object | undefined), access: accessOf(route.url, route.schema) };
  });
}

/** The access of the route a request matched; a request that matched none needs a session. */
export const access = (req: FastifyRequest): Access => req.routeOptions.config?.access ?? 'session';

/** `Authorization: Bearer <token>` equal to the configured metrics token (compared in constant time). */
export function metricsTokenMatches(req: FastifyRequest, token: string | undefined): boolean {
  if (!token) return false;
  const m = /^\s*Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
  if (!m) return false;
  const given = Buffer.from(m[1]!);
  const wanted = Buffer.from(token);
  return given.length === wanted.length && timingSafeEqual(given, wanted);
}
