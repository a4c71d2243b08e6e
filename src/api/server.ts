/**
 * The HTTP API: one Fastify instance with SPP's conventions applied once for every route —
 * tolerant paths and bodies, login sessions, and errors in SPP's `{id, description}` shape.
 */
import Fastify, { type FastifyError, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { badRequest, SppError } from '../core/errors.ts';
import { applicationRoutes } from './application.ts';
import { appserverRoutes } from './appservers.ts';
import { sessionHeader } from './auth.ts';
import type { ApiContext } from './context.ts';
import { eventRoutes, streamSessionId } from './events.ts';
import { identityRoutes } from './identities.ts';
import { jobRoutes } from './jobs.ts';
import { metricsRoutes } from './metrics.ts';
import { registerOpenApi } from './openapi.ts';
import { sessionRoutes } from './sessions.ts';
import { PUBLIC_ROUTES, systemRoutes } from './system.ts';
import { webRoutes } from './web.ts';

export interface ApiOptions {
  https?: { key: string; cert: string };
  /** Largest accepted request body in bytes. */
  bodyLimit?: number;
  logger?: FastifyServerOptions['logger'];
}

/** `//api//endeavour/job/` → `/api/endeavour/job`: clients build URLs with doubled and trailing slashes. */
export function normalizePath(url: string): string {
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  let clean = path.replace(/\/{2,}/g, '/');
  if (clean.length > 1 && clean.endsWith('/')) clean = clean.slice(0, -1);
  return clean === path ? url : clean + (q < 0 ? '' : url.slice(q));
}

export function buildApi(ctx: ApiContext, options: ApiOptions = {}): FastifyInstance {
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: options.bodyLimit ?? 1024 * 1024,
    rewriteUrl: (req) => normalizePath(req.url ?? '/'),
    trustProxy: false,
    ...(options.https ? { https: options.https } : {}),
  }) as unknown as FastifyInstance;

  // First: the OpenAPI description learns of every route added after this line.
  registerOpenApi(app, ctx.version.version);

  // JSON bodies may be empty (most SPP clients POST actions with no body); any content type is
  // read as JSON when it looks like JSON, since clients are careless with the header.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (req, body, done) => {
    const text = typeof body === 'string' ? body.trim() : '';
    if (text === '') return done(null, undefined);
    // CSV (bulk registration) stays text.
    if (/^text\/csv\b/i.test(req.headers['content-type'] ?? '')) return done(null, text);
    try {
      done(null, JSON.parse(text));
    } catch {
      done(badRequest('The request body is not valid JSON.'), undefined);
    }
  });

  app.addHook('onRequest', async (req) => {
    // Only the API needs a login session; the web UI's files are public (the UI logs in itself).
    if (!req.url.startsWith('/api/') && !req.url.startsWith('/ngp/')) return;
    const route = `${req.method} ${req.routeOptions.url ?? req.url.split('?')[0]}`;
    if (PUBLIC_ROUTES.has(route)) return;
    req.principal = await ctx.auth.authenticate(sessionHeader(req) ?? streamSessionId(req));
  });

  app.setErrorHandler((err: FastifyError | SppError, req, reply) => {
    let status: number;
    let body: { id: string; description: string };
    if (err instanceof SppError) {
      status = err.status;
      body = { id: err.id, description: err.description };
    } else if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      status = 413;
      body = { id: 'XSBRequestTooLargeException', description: `The request body is larger than the ${Math.round((options.bodyLimit ?? 1048576) / 1024)} KiB allowed.` };
    } else if (err.validation) {
      status = 400;
      body = { id: 'XSBInvalidArgumentException', description: err.message };
    } else if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
      status = err.statusCode;
      body = { id: 'XSBInvalidArgumentException', description: err.message };
    } else {
      req.log.error(err);
      if (!options.logger) console.error(`census: internal error on ${req.method} ${req.url}:`, err);
      status = 500;
      body = { id: 'XSBInternalException', description: 'Internal server error; the server log has the details.' };
    }
    if (status === 429) reply.header('retry-after', '60');
    // The NodeJS layer (/ngp) wraps answers as {statusCode, response}; keep id/description on top for core readers.
    const payload = req.url.startsWith('/ngp/') ? { statusCode: status, response: body, ...body } : body;
    return reply.code(status).send(payload);
  });

  app.setNotFoundHandler((req, reply) => {
    const body = { id: 'XSBObjectNotFoundException', description: `There is no ${req.method} ${req.url.split('?')[0]} in this API.` };
    reply.code(404).send(req.url.startsWith('/ngp/') ? { statusCode: 404, response: body, ...body } : body);
  });

  systemRoutes(app, ctx);
  jobRoutes(app, ctx);
  sessionRoutes(app, ctx);
  identityRoutes(app, ctx);
  appserverRoutes(app, ctx);
  applicationRoutes(app, ctx);
  eventRoutes(app, ctx);
  const metrics = metricsRoutes(app, ctx); // GET /metrics: public, as it is outside /api
  app.addHook('onResponse', async (req, reply) => metrics.observe(req, reply));
  webRoutes(app);
  return app;
}
