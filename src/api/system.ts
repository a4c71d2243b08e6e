/** Login, logout, and the version probes clients call before they have a session (spec §2, §3). */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { userActor } from '../core/actor.ts';
import { invalid, unauthenticated } from '../core/errors.ts';
import { basicCredentials, sessionHeader } from './auth.ts';
import { bodyObject, queryParam, type ApiContext } from './context.ts';
import { baseUrl, link } from './links.ts';
import { LoginBody, noContent, query, requestBody, routeSchema, TAGS } from './schemas/index.ts';
import { userAnswer } from './security.ts';

export function systemRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const started = ctx.clock.now();

  app.post('/api/endeavour/session', {
    schema: routeSchema({
      tag: TAGS.login,
      summary: 'Log in',
      description: 'Opens a login session with HTTP Basic credentials; answer 200 (never 201). A body is not needed. ' +
        'With `?changePassword=true` and `{"newPassword": "…"}` the password is changed in the same call (SPP first-boot flow).',
      querystring: query({ changePassword: '`true` to set `newPassword` from the body.' }),
      body: requestBody(LoginBody),
      ok: { 200: 'LoginResponse' },
      errors: [400, 429],
      access: 'basic',
    }),
  }, async (req) => {
    const { auth } = ctx.services;
    const { sessionid, user: loggedIn } = await auth.login(basicCredentials(req), req.ip);
    let user = loggedIn;
    const changing = queryParam(req, 'changePassword') === 'true';
    // A user made (or whose password was set) by someone else sets their own before anything else.
    if (user.passwordExpired && !changing) {
      await auth.logout(sessionid);
      throw unauthenticated(`The password of "${user.name}" has expired: log in with ?changePassword=true and {"newPassword": "…"} to set a new one.`, 'auth.password-expired');
    }
    // SPP's first-boot flow: log in with the current password and set a new one in the same call.
    if (changing) {
      const newPassword = bodyObject(req).newPassword;
      if (typeof newPassword !== 'string' || newPassword.length < 8 || newPassword.length > 1024) {
        await auth.logout(sessionid);
        throw invalid('"newPassword" must be a string of 8 to 1024 characters.');
      }
      // Ends the user's other sessions: only the one this login opened survives the change. A
      // refused change (a directory user's password lives in the directory) ends that one too:
      // the caller gets an error, not a session, and must not be left holding one.
      try {
        await auth.changePassword({ userId: user.id, sessionId: sessionid, address: req.ip }, newPassword);
      } catch (err) {
        await auth.logout(sessionid);
        throw err;
      }
      // The login route has no session yet (Basic credentials): the actor is the user who just logged in.
      user = await ctx.services.system.me(userActor(user.id, user.name, await ctx.services.auth.accessOf(user.id), req.ip));
    }
    // The login route has no session yet: the actor is the user who just logged in.
    const access = await auth.accessOf(user.id);
    const me = userActor(user.id, user.name, access, req.ip);
    return {
      sessionid, user: await userAnswer(ctx, me, baseUrl(req), await ctx.services.users.get(me, user.id)),
      demo: false, tenantAdmin: access.can('user.edit'), userGroups: [], timeZone: 'UTC',
    };
  });

  // Readiness probe used by deployment scripts: 200 once the server is up.
  app.options('/api/endeavour/session', {
    schema: routeSchema({
      tag: TAGS.login,
      summary: 'Readiness probe',
      description: 'Answers 200 with `{}` once the server is up; no session needed.',
      ok: { 200: { type: 'object', description: 'The server is up.' } },
      access: 'public',
    }),
  }, async () => ({}));

  const logout = async (req: FastifyRequest, reply: FastifyReply) => {
    await ctx.services.auth.logout(sessionHeader(req)!, req.ip);
    return reply.code(204).send();
  };
  app.delete('/api/endeavour/session', {
    schema: routeSchema({ tag: TAGS.login, permission: 'session', summary: 'Log out', description: 'Ends the login session of the header.', ok: { 204: noContent('Logged out.') } }),
  }, logout);

  app.get('/api/lifecycle/ping', {
    schema: routeSchema({ tag: TAGS.system, summary: 'Version and uptime', ok: { 200: 'Ping' }, access: 'public' }),
  }, async () => ({
    version: ctx.version.version,
    build: ctx.version.build,
    product: 'Census',
    uptime: ctx.clock.now() - started,
    time: ctx.clock.now(),
  }));

  app.get('/ngp/version', {
    schema: routeSchema({ tag: TAGS.system, summary: 'Version (NodeJS layer)', ok: { 200: 'NgpVersion' }, access: 'public', ngp: true }),
  }, async () => ({
    product: 'Census',
    version: ctx.version.version,
    build: ctx.version.build,
    date: new Date(started).toISOString(),
    epoch: String(started),
  }));
}
