/** Login, logout, and the version probes clients call before they have a session (spec §2, §3). */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { User } from '../core/types.ts';
import { sessionHeader } from './auth.ts';
import { bodyObject, queryParam, type ApiContext } from './context.ts';
import { badRequest } from '../core/errors.ts';
import { hashPassword } from '../core/password.ts';
import { baseUrl, link } from './links.ts';
import { TENANT_ID } from './wire.ts';

export const PUBLIC_ROUTES = new Set([
  'POST /api/endeavour/session',
  'OPTIONS /api/endeavour/session',
  'GET /api/lifecycle/ping',
  'HEAD /api/lifecycle/ping',
  'GET /ngp/version',
  'HEAD /ngp/version',
]);

export function userWire(base: string, u: User) {
  return {
    links: { self: link(base, `/api/security/user/${u.id}`, 'self'), up: link(base, '/api/security/user', 'up') },
    id: String(u.id),
    name: u.name,
    type: u.type,
    typeDisplayName: 'Native User',
    tenantId: TENANT_ID,
    rbacPath: `user:0/user:${u.id}`,
    permissions: [],
    metadata: {},
    loginCount: u.loginCount,
    lastLogin: u.lastLogin,
    failedLogin: u.failedLogin,
    lastFailedLogin: u.lastFailedLogin,
    lastPasswordUpdate: u.lastPasswordUpdate,
    passwordAge: 0,
    passwordExpiresAt: 0,
    passwordExpired: false,
    accountDisabled: false,
    accountLocked: false,
  };
}

export function systemRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const started = ctx.clock.now();

  app.post('/api/endeavour/session', async (req) => {
    const { sessionid, user: loggedIn } = await ctx.auth.login(req.headers.authorization, req.ip);
    let user = loggedIn;
    // SPP's first-boot flow: log in with the current password and set a new one in the same call.
    if (queryParam(req, 'changePassword') === 'true') {
      const newPassword = bodyObject(req).newPassword;
      if (typeof newPassword !== 'string' || newPassword.length < 8 || newPassword.length > 1024) {
        await ctx.auth.logout(sessionid);
        throw badRequest('"newPassword" must be a string of 8 to 1024 characters.');
      }
      await ctx.store.users.setPassword(user.id, await hashPassword(newPassword), ctx.clock.now());
      user = (await ctx.store.users.byId(user.id))!;
    }
    return { sessionid, user: userWire(baseUrl(req), user), demo: false, tenantAdmin: true, userGroups: [], timeZone: 'UTC' };
  });

  // Readiness probe used by deployment scripts: 200 once the server is up.
  app.options('/api/endeavour/session', async () => ({}));

  const logout = async (req: FastifyRequest, reply: FastifyReply) => {
    await ctx.auth.logout(sessionHeader(req)!);
    return reply.code(204).send();
  };
  app.delete('/api/endeavour/session', logout);

  app.get('/api/lifecycle/ping', async () => ({
    version: ctx.version.version,
    build: ctx.version.build,
    product: 'Census',
    uptime: ctx.clock.now() - started,
    time: ctx.clock.now(),
  }));

  app.get('/ngp/version', async () => ({
    product: 'Census',
    version: ctx.version.version,
    build: ctx.version.build,
    date: new Date(started).toISOString(),
    epoch: String(started),
  }));
}
