/**
 * The HTTP API: one Fastify instance with SPP's conventions applied once for every route —
 * tolerant paths and bodies, login sessions, and errors in SPP's `{id, description}` shape.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import { invalid } from '../core/errors.ts';
import { wireError } from './errors.ts';
import { access, checkPermission, markAccess, metricsTokenMatches } from './access.ts';
import { alertRoutes } from './alerts.ts';
import { apiKeyRoutes, bearerApiKey } from './apikeys.ts';
import { applicationRoutes } from './application.ts';
import { appserverRoutes } from './appservers.ts';
import { catalogVmRoutes } from './catalog-vm.ts';
import { hypervisorRoutes } from './hypervisors.ts';
import { auditRefusals, auditRoutes, downloadSessionId } from './audit.ts';
import { ldapRoutes } from './ldap.ts';
import { collectorRoutes } from './collectors.ts';
import { sessionHeader } from './auth.ts';
import type { ApiContext } from './context.ts';
import { eventRoutes, streamSessionId } from './events.ts';
import { FastLane } from './fast-lane.ts';
import { answerClientError, DEFAULT_HTTP_LIMITS, guardBody, limitConnectionsPerAddress, nodeServerOptions, type HttpLimits } from './http-limits.ts';
import { jsonDepthExceeds, MAX_JSON_DEPTH } from './json-depth.ts';
import { identityRoutes } from './identities.ts';
import { securityRoutes } from './security.ts';
import { jobRoutes } from './jobs.ts';
import { useLinkBase } from './links.ts';
import { metricsRoutes } from './metrics.ts';
import { registerOpenApi } from './openapi.ts';
import { useSchemaValidation } from './schemas/index.ts';
import { canonicalPath, errorPayload, spellsNgp } from './paths.ts';
import { sessionRoutes } from './sessions.ts';
import { systemRoutes } from './system.ts';
import { sysinfoRoutes } from './sysinfo.ts';
import { siteRoutes } from './sites.ts';
import { smtpRoutes } from './smtp.ts';
import { vadpRoutes } from './vadp.ts';
import { webhookRoutes } from './webhooks.ts';
import { webRoutes } from './web.ts';

export interface ApiOptions {
  https?: { key: string; cert: string };
  /** Largest accepted request body in bytes. */
  bodyLimit?: number;
  logger?: FastifyServerOptions['logger'];
  /** Deadlines and connection bounds (src/api/http-limits.ts). */
  limits?: Partial<HttpLimits>;
  /** A bearer token that may read /metrics without a login session (Prometheus). */
  metricsToken?: string;
}

/**
 * Requests whose path spelling is refused (src/api/paths.ts) are routed here, with the reason
 * kept beside the raw request: the router never sees a path that could mean another one.
 */
const BAD_PATH_ROUTE = '/.census/bad-path';
const badPaths = new WeakMap<IncomingMessage, { reason: string; ngp: boolean }>();

/**
 * Answers under /ngp are wrapped the NodeJS layer's way; decided by the route that ran. So are
 * /api/site's (with `id` and `description` on top as well): SPP's createsite.py prints `response`.
 */
const isNgp = (req: FastifyRequest) => badPaths.get(req.raw)?.ngp ?? /^\/(ngp\/|api\/site(\/|$))/.test(req.routeOptions.url ?? req.url);

/** Whether a request comes with a body (HTTP/1.1: a length other than 0, or chunks). */
const announcesBody = (req: FastifyRequest) => {
  const length = req.headers['content-length'];
  return (length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined;
};

export function buildApi(ctx: ApiContext, options: ApiOptions = {}): FastifyInstance {
  const limits: HttpLimits = { ...DEFAULT_HTTP_LIMITS, ...options.limits };
  const serverOptions = nodeServerOptions(limits);
  const tls = options.https ? { ...options.https, ...serverOptions } : undefined;
  // Headers every answer carries: no MIME sniffing, and HSTS where Census speaks HTTPS (the onSend
  // hook below adds the rest by the answer).
  const alwaysHeaders: [string, string][] = [['x-content-type-options', 'nosniff']];
  if (options.https) alwaysHeaders.push(['strict-transport-security', 'max-age=31536000']);
  // An answer that sets no cache-control of its own (the lane's never do): nothing cached.
  const noStore: [string, string] = ['cache-control', 'no-store'];
  // Not with a logger, which logs every request that Fastify sees.
  const lane = options.logger
    ? undefined
    : new FastLane({ principalOf: (id) => ctx.services.auth.cachedPrincipal(id), headers: [...alwaysHeaders, noStore] });
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: options.bodyLimit ?? 1024 * 1024,
    rewriteUrl: (raw) => {
      const path = canonicalPath(raw.url ?? '/');
      if (path.ok) return path.url;
      badPaths.set(raw, { reason: path.reason, ngp: spellsNgp(raw.url ?? '') });
      return BAD_PATH_ROUTE;
    },
    trustProxy: false,
    clientErrorHandler: answerClientError,
    // What the router refuses (an escape that decodes to invalid UTF-8, a parameter over its
    // length limit): SPP's shape, like every other error.
    frameworkErrors: (err, req, reply: FastifyReply) => {
      const status = err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 414 : err.code === 'FST_ERR_BAD_URL' ? 400 : 500;
      const body = { id: status === 500 ? 'XSBInternalException' : 'XSBInvalidArgumentException', description: status === 414 ? 'A path parameter is too long.' : 'The request path is not valid.' };
      void reply.code(status).send(errorPayload(isNgp(req), status, body));
    },
    // With a serverFactory Fastify makes no server: `https` only tells it how to print addresses,
    // and the factory sets the server's options and timeouts itself.
    ...(tls ? { https: tls } : {}),
    // The server Fastify would make, with the fast lane in front of its request listener.
    serverFactory: (handler) => {
      const listener = lane ? (req: IncomingMessage, res: ServerResponse) => lane.serve(req, res) || handler(req, res) : handler;
      const server = tls ? https.createServer(tls, listener) : http.createServer(serverOptions, listener);
      server.keepAliveTimeout = limits.keepAliveTimeoutMs;
      server.requestTimeout = limits.requestTimeoutMs;
      return server;
    },
  }) as unknown as FastifyInstance;
  app.addHook('preClose', (done) => {
    lane?.close();
    done();
  });
  limitConnectionsPerAddress(app.server, limits.maxConnectionsPerAddress);

  // Before any route: each route's access (public, session, token) is fixed as it is added.
  markAccess(app);
  // Routes declared with TypeBox schemas validate (and decode) their requests with them.
  useSchemaValidation(app);

  // First: the OpenAPI description learns of every route added after this line.
  registerOpenApi(app, ctx.version.version);
  useLinkBase(app, ctx.publicUrl);

  // JSON bodies may be empty (most SPP clients POST actions with no body); any content type is
  // read as JSON when it looks like JSON, since clients are careless with the header.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (req, body, done) => {
    const text = typeof body === 'string' ? body.trim() : '';
    if (text === '') return done(null, undefined);
    if (jsonDepthExceeds(text)) return done(invalid(`The request body nests deeper than ${MAX_JSON_DEPTH} levels.`), undefined);
    // CSV (bulk registration) stays text.
    if (/^text\/csv\b/i.test(req.headers['content-type'] ?? '')) return done(null, text);
    try {
      done(null, JSON.parse(text));
    } catch {
      done(invalid('The request body is not valid JSON.'), undefined);
    }
  });

  // The four server hooks below take Fastify's `done` callback instead of being `async`: each
  // async hook costs a promise and a turn of the microtask queue on every request, even where it
  // has nothing to do (a GET has no body to guard, onSend only sets headers, onResponse only
  // counts). Only the session check's own promise remains. (Measured, the saving is a few µs of
  // the job status GET, inside run-to-run noise: bench/README.md, job-status.)

  // Access is decided by the route that matched (its schema's `security`, src/api/access.ts),
  // never by how the URL was spelled; a request that matched no route needs a session too.
  app.addHook('onRequest', (req, _reply, done) => {
    // Read once for both checks: Fastify builds routeOptions afresh at each read.
    const config = req.routeOptions.config;
    const how = access(req, config);
    // No route matched: the not-found handler below runs, and asks for a session under /api and /ngp.
    if (how === 'public' || req.is404) return done();
    if (how === 'session-or-token' && metricsTokenMatches(req, options.metricsToken)) return done();
    // An API key comes as `Authorization: Bearer cns_…` or in place of the session id.
    ctx.services.auth.authenticate(bearerApiKey(req) ?? sessionHeader(req) ?? streamSessionId(req) ?? downloadSessionId(req), req.ip).then((principal) => {
      req.principal = principal;
      // A refusal (403) goes to `done` as an error, exactly as a failed session check (401) does.
      let refused: FastifyError | undefined;
      try {
        checkPermission(req, principal.access, config);
      } catch (err) {
        refused = err as FastifyError;
      }
      done(refused);
    }, done);
  });
  // Changes refused before any use case ran (permission, validation) go to the audit log.
  auditRefusals(app, ctx);

  // A body that stops arriving is cut within seconds (408) instead of holding its connection.
  app.addHook('preParsing', (req, reply, payload, done) => {
    if (!announcesBody(req)) return done(null, payload);
    done(null, guardBody(payload, limits.bodyIdleTimeoutMs, reply.raw));
  });

  // Besides alwaysHeaders: nothing cached by default (API answers hold session-bound data), and
  // no framing of any HTML page.
  app.addHook('onSend', (req, reply, payload, done) => {
    for (const [name, value] of alwaysHeaders) reply.header(name, value);
    if (!reply.hasHeader('cache-control')) reply.header(...noStore);
    if (/^text\/html/i.test(String(reply.getHeader('content-type') ?? ''))) {
      reply.header('x-frame-options', 'DENY');
      const csp = reply.getHeader('content-security-policy');
      if (!csp) reply.header('content-security-policy', "frame-ancestors 'none'");
    }
    // A body that was not read to its end (cut, or refused before reading) leaves the connection
    // out of step: close it after this answer rather than read the next request from the middle.
    // A request that announced no body has none to read, though an answer given before Node saw
    // its end (a route with nothing to wait for) finds it not `complete` yet.
    if (reply.statusCode === 408 || (announcesBody(req) && !req.raw.complete)) reply.header('connection', 'close');
    done(null, payload);
  });

  app.all(BAD_PATH_ROUTE, { schema: { hide: true, security: [] } }, async (req) => {
    throw invalid(badPaths.get(req.raw)?.reason ?? 'The request path is not valid.');
  });

  app.setErrorHandler((err: FastifyError, req, reply) => {
    let status: number;
    let body: { id: string; description: string };
    const ours = wireError(err);
    if (ours) {
      ({ status, body } = ours);
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
    return reply.code(status).send(errorPayload(isNgp(req), status, body));
  });

  app.setNotFoundHandler(async (req, reply) => {
    // What the UI's catch-all passed on: a caller without a session learns nothing about which
    // API paths exist (401 for any of them), as before the route-based check.
    if (!req.principal && /^\/(api|ngp)(\/|$)/.test(req.url)) {
      req.principal = await ctx.services.auth.authenticate(bearerApiKey(req) ?? sessionHeader(req), req.ip);
    }
    const body = { id: 'XSBObjectNotFoundException', description: `There is no ${req.method} ${req.url.split('?')[0]} in this API.` };
    return reply.code(404).send(errorPayload(isNgp(req), 404, body));
  });

  systemRoutes(app, ctx);
  jobRoutes(app, ctx, lane);
  sessionRoutes(app, ctx);
  identityRoutes(app, ctx);
  appserverRoutes(app, ctx);
  hypervisorRoutes(app, ctx);
  catalogVmRoutes(app, ctx);
  securityRoutes(app, ctx);
  apiKeyRoutes(app, ctx);
  auditRoutes(app, ctx);
  ldapRoutes(app, ctx);
  applicationRoutes(app, ctx);
  collectorRoutes(app, ctx);
  eventRoutes(app, ctx);
  sysinfoRoutes(app, ctx);
  siteRoutes(app, ctx);
  vadpRoutes(app, ctx);
  webhookRoutes(app, ctx);
  alertRoutes(app, ctx);
  smtpRoutes(app, ctx);
  const metrics = metricsRoutes(app, ctx); // GET /metrics: a session or the metrics token
  if (lane) lane.count = metrics.count;
  app.addHook('onResponse', (req, reply, done) => {
    metrics.observe(req, reply);
    done();
  });
  webRoutes(app);
  return app;
}
