/**
 * The OpenAPI description (issue 6, point 4): served without a session and valid OpenAPI 3; it
 * names every route the server has; real answers — after a real inventory of a real PostgreSQL
 * server — match the schemas it documents for their status; and the serializer, which keeps only
 * the properties a schema lists, drops nothing the handlers write.
 */
import { readFileSync } from 'node:fs';
import SwaggerParser from '@apidevtools/swagger-parser';
import { formatParamUrl } from '@fastify/swagger';
import { Ajv, type ValidateFunction } from 'ajv';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { databaseWire, instanceWire } from '../src/api/application.ts';
import { appserverWire } from '../src/api/appserver-wire.ts';
import { identityWire } from '../src/api/identities.ts';
import { userWire } from '../src/api/security.ts';
import { changeWire, logToWire, sessionToWire } from '../src/api/wire.ts';
import { postgresqlCollector } from '../src/collectors/postgresql/index.ts';
import { systemClock } from '../src/core/clock.ts';
import { AUTH_SUPERPASS, AUTH_SUPERUSER } from './support/pg-auth-cluster.ts';
import { ADMIN_PASSWORD, startTestServer, waitFor, type Reply, type TestServer } from './support/server.ts';

type Doc = {
  openapi: string;
  info: { title: string; version: string };
  paths: Record<string, Record<string, { summary?: string; tags?: string[]; responses: Record<string, { content?: Record<string, unknown> }> }>>;
  components: { schemas: Record<string, unknown>; securitySchemes: Record<string, unknown> };
};

/** Routes that are not the API: the web UI and the API description itself. */
const UNDOCUMENTED = (method: string, url: string) =>
  method === 'HEAD' || url === '/' || url === '/*' || url === '/api/openapi.json' || url === '/api/docs' || url.startsWith('/api/docs/') ||
  url === '/.census/bad-path';

/**
 * Every (method, route pattern) of the server, read from Fastify's own route tree
 * (`printRoutes({commonPrefix: false})`: one node per line, indented four characters per level,
 * a node's path being its label appended to its parent's).
 */
function serverRoutes(tree: string): { method: string; url: string }[] {
  const out: { method: string; url: string }[] = [];
  const stack: string[] = [];
  for (const line of tree.split('\n')) {
    const m = /^([│ ]*)[├└]── (.*?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!m) continue;
    const depth = m[1]!.length / 4;
    stack.length = depth;
    stack.push(m[2]!);
    for (const method of (m[3] ?? '').split(',').map((s) => s.trim()).filter(Boolean)) out.push({ method, url: stack.join('') });
  }
  return out;
}

describe('OpenAPI description', () => {
  let s: TestServer;
  let sid = '';
  let doc: Doc;
  const ajv = new Ajv({ strict: false, allErrors: true });
  const port = inject('pgAuthPort');

  beforeAll(async () => {
    s = await startTestServer();
  });
  afterAll(async () => s?.stop());

  /** The validator of the schema documented for this operation and status. */
  function validatorFor(method: string, path: string, status: number): ValidateFunction {
    const op = doc.paths[path]?.[method.toLowerCase()];
    expect(op, `${method} ${path} is documented`).toBeDefined();
    const response = op!.responses[String(status)];
    expect(response, `${method} ${path} documents status ${status}`).toBeDefined();
    expect(response!.content?.['application/json'], `${method} ${path} ${status} has a JSON schema`).toBeDefined();
    const pointer = ['paths', path, method.toLowerCase(), 'responses', String(status), 'content', 'application/json', 'schema']
      .map((p) => p.replace(/~/g, '~0').replace(/\//g, '~1')).join('/');
    return ajv.compile({ $ref: `census-openapi#/${pointer}` });
  }

  /** Checks a real answer against the document: its status is documented and its body matches. */
  function expectDocumented(r: Reply, method: string, path: string, status: number): void {
    expect(r.status, `${method} ${path}: ${r.text.slice(0, 500)}`).toBe(status);
    const validate = validatorFor(method, path, status);
    const ok = validate(r.json);
    expect(ok ? [] : validate.errors, `${method} ${path} ${status} matches its schema`).toEqual([]);
  }

  it('is served without a session, as valid OpenAPI 3.0 describing Census', async () => {
    const r = await s.req('GET', '/api/openapi.json');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/application\/json/);
    doc = r.json as Doc;
    expect(doc.openapi).toMatch(/^3\.0\./);
    expect(doc.info.title).toBe('Census');
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(doc.info.version).toBe(pkg.version);
    expect(doc.components.securitySchemes).toMatchObject({
      sessionid: { type: 'apiKey', in: 'header', name: 'X-Endeavour-Sessionid' },
      basicAuth: { type: 'http', scheme: 'basic' },
    });
    // swagger-parser checks the document against the OpenAPI 3.0 schema and resolves every $ref.
    await SwaggerParser.validate(structuredClone(doc) as never);
    ajv.addSchema(doc, 'census-openapi');
    // The validators built from it do reject what does not match (the checks below are not vacuous).
    const job = validatorFor('GET', '/api/endeavour/job/{id}', 200);
    expect(job({})).toBe(false);
    expect(validatorFor('GET', '/api/endeavour/job/{id}', 404)({ id: 'XSBObjectNotFoundException', description: 'x' })).toBe(true);
    expect(validatorFor('GET', '/api/endeavour/job/{id}', 404)({ id: 'XSBObjectNotFoundException' })).toBe(false);
  });

  it('names every route the server has, with a summary, a tag and its answers', async () => {
    const routes = serverRoutes(s.census.app.printRoutes({ commonPrefix: false })).filter((r) => !UNDOCUMENTED(r.method, r.url));
    expect(routes.length).toBeGreaterThan(40);
    const missing = routes.filter((r) => !doc.paths[formatParamUrl(r.url)]?.[r.method.toLowerCase()]).map((r) => `${r.method} ${r.url}`);
    expect(missing).toEqual([]);
    for (const { method, url } of routes) {
      const op = doc.paths[formatParamUrl(url)]![method.toLowerCase()]!;
      expect(op.summary, `${method} ${url} summary`).toBeTruthy();
      expect(op.tags?.length, `${method} ${url} tags`).toBeGreaterThan(0);
      const statuses = Object.keys(op.responses);
      expect(statuses.some((c) => /^2/.test(c)) || statuses.includes('400'), `${method} ${url} answers`).toBe(true);
      expect(statuses, `${method} ${url}: errors listed by status`).not.toContain('default');
      // The login is Basic, the probes and the readiness check need nothing, the rest a session.
      const security = (op as { security?: unknown[] }).security;
      if (url === '/api/endeavour/session' && method === 'POST') expect(security).toEqual([{ basicAuth: [] }]);
      if (['/api/lifecycle/ping', '/ngp/version'].includes(url) || (url === '/api/endeavour/session' && method === 'OPTIONS')) expect(security).toEqual([]);
    }
    // And nothing is documented that the server does not have.
    const served = new Set(routes.map((r) => `${r.method.toLowerCase()} ${formatParamUrl(r.url)}`));
    const extra = Object.entries(doc.paths).flatMap(([p, item]) => Object.keys(item).map((m) => `${m} ${p}`)).filter((k) => !served.has(k));
    expect(extra).toEqual([]);
  });

  it('describes shared records once, as components, and never a password in a response', () => {
    for (const name of ['Error', 'NgpError', 'Link', 'Links', 'Job', 'JobList', 'Lastrun', 'JobSession', 'LogEntry', 'AppServer', 'Identity', 'Instance', 'Database', 'Change', 'Task', 'ConnectionTest', 'LoginResponse', 'Ping']) {
      expect(doc.components.schemas[name], name).toBeDefined();
    }
    const identity = JSON.stringify(doc.components.schemas.Identity);
    for (const secret of ['password', 'privatekey', 'passphrase', 'secret']) expect(identity.toLowerCase()).not.toContain(`"${secret}"`);
    // Request bodies may carry them (write-only), responses never.
    for (const item of Object.values(doc.paths)) {
      for (const op of Object.values(item)) expect(JSON.stringify(op.responses).toLowerCase()).not.toContain('"password"');
    }
  });

  it('matches real answers after a real inventory, and drops nothing the handlers write', async () => {
    const base = s.url;
    const login = await s.req('POST', '/api/endeavour/session', { auth: { user: 'admin', password: ADMIN_PASSWORD } });
    expectDocumented(login, 'POST', '/api/endeavour/session', 200);
    sid = login.json.sessionid;
    const st = s.census.store;
    const roles = new Map((await st.roles.all()).map((r) => [r.id, r]));
    const pools = new Map((await st.resourcePools.all()).map((p) => [p.id, p]));
    const admin = userWire(base, (await st.users.byId(1000))!, await st.permissionSets.of(1000), roles, pools);
    expect(admin.permissions).toHaveLength(1);
    expect(JSON.parse(JSON.stringify(login.json.user))).toEqual(JSON.parse(JSON.stringify(admin)));
    const get = (path: string) => s.req('GET', path, { sid });

    // Register the password-checking PostgreSQL cluster and inventory it.
    const ident = await s.req('POST', '/api/identity/user', { sid, body: { name: 'pg login', username: AUTH_SUPERUSER, password: AUTH_SUPERPASS } });
    expectDocumented(ident, 'POST', '/api/identity/user', 201);
    const server = await s.req('POST', '/api/appserver', {
      sid, body: { name: 'pg-auth', hostAddress: '127.0.0.1', portNumber: String(port), applicationType: 'postgresql', osuser: { href: ident.json.links.self.href } },
    });
    expectDocumented(server, 'POST', '/api/appserver', 201);
    const start = await s.req('POST', '/api/endeavour/job/1004?action=start', { sid, raw: '' });
    expectDocumented(start, 'POST', '/api/endeavour/job/{id}', 200);
    const sessionId = start.json.lastrun.sessionId as string;
    await waitFor(async () => ((await get('/api/endeavour/job/1004')).json.status === 'IDLE' ? true : undefined), 'the inventory to end');

    const session = await get(`/api/endeavour/jobsession/${sessionId}`);
    expect(session.json.status).toBe('COMPLETED');
    const instances = await get('/api/application/postgresql/instance');
    expect(instances.json.total).toBe(1);
    const instanceId = instances.json.instances[0].id as string;
    const databases = await get(`/api/application/postgresql/instance/${instanceId}/database`);
    expect(databases.json.total).toBeGreaterThan(0);
    const dbId = databases.json.databases[0].id as string;
    const logs = await get(`/api/endeavour/log/job?filter=${encodeURIComponent(JSON.stringify([{ property: 'jobsessionId', value: sessionId }]))}`);
    expect(logs.json.total).toBeGreaterThan(0);
    const test = await s.req('POST', `/api/appserver/${server.json.id}?action=test`, { sid, body: { type: 'application' } });
    expectDocumented(test, 'POST', '/api/appserver/{id}', 200);
    expect(test.json.testsComplete).toBe(true);

    const answers: [string, string, number][] = [
      ['/api/endeavour/job', '/api/endeavour/job', 200],
      ['/api/endeavour/job/1004', '/api/endeavour/job/{id}', 200],
      ['/api/endeavour/job/1004/status', '/api/endeavour/job/{id}/status', 200],
      ['/api/endeavour/job/1004/trigger', '/api/endeavour/job/{id}/trigger', 200],
      ['/api/endeavour/jobsession', '/api/endeavour/jobsession', 200],
      ['/api/endeavour/jobsession/history/jobid/1004', '/api/endeavour/jobsession/history/jobid/{id}', 200],
      ['/api/endeavour/jobsession/stats', '/api/endeavour/jobsession/stats', 200],
      ['/api/endeavour/jobsession/stats/jobid/1004', '/api/endeavour/jobsession/stats/jobid/{id}', 200],
      [`/api/endeavour/jobsession/${sessionId}`, '/api/endeavour/jobsession/{id}', 200],
      [`/api/endeavour/jobsession/${sessionId}/task`, '/api/endeavour/jobsession/{id}/task', 200],
      [`/api/endeavour/jobsession/${sessionId}/change`, '/api/endeavour/jobsession/{id}/change', 200],
      [`/api/endeavour/log/job?filter=${encodeURIComponent(JSON.stringify([{ property: 'jobsessionId', value: sessionId }]))}&pageSize=2`, '/api/endeavour/log/job', 200],
      [`/api/endeavour/log/job/${logs.json.logs[0].id}`, '/api/endeavour/log/job/{logId}', 200],
      ['/api/appserver', '/api/appserver', 200],
      ['/ngp/appserver', '/ngp/appserver', 200],
      [`/api/appserver/${server.json.id}`, '/api/appserver/{id}', 200],
      [`/api/appserver/${server.json.id}/test/${test.json.statusHref.split('/').pop()}`, '/api/appserver/{id}/test/{testId}', 200],
      ['/api/identity/user', '/api/identity/user', 200],
      [`/api/identity/user/${ident.json.id}`, '/api/identity/user/{id}', 200],
      ['/api/identity/key', '/api/identity/key', 200],
      ['/api/application/postgresql/instance', '/api/application/{type}/instance', 200],
      [`/api/application/postgresql/instance/${instanceId}`, '/api/application/{type}/instance/{id}', 200],
      [`/api/application/postgresql/instance/${instanceId}/history`, '/api/application/{type}/instance/{id}/history', 200],
      [`/api/application/postgresql/instance/${instanceId}/database`, '/api/application/{type}/instance/{id}/database', 200],
      [`/api/application/postgresql/instance/${instanceId}/database/${dbId}`, '/api/application/{type}/instance/{id}/database/{dbId}', 200],
      [`/api/application/postgresql/instance/${instanceId}/database/${dbId}/history`, '/api/application/{type}/instance/{id}/database/{dbId}/history', 200],
      ['/api/lifecycle/ping', '/api/lifecycle/ping', 200],
      ['/ngp/version', '/ngp/version', 200],
      // Errors, in SPP's shape (and the NodeJS layer's).
      ['/api/endeavour/job/999999', '/api/endeavour/job/{id}', 404],
      ['/api/endeavour/jobsession/abc', '/api/endeavour/jobsession/{id}', 400],
      [`/api/endeavour/jobsession?filter=${encodeURIComponent('[{')}`, '/api/endeavour/jobsession', 400],
      ['/api/endeavour/log/job?pageSize=0', '/api/endeavour/log/job', 400],
      ['/ngp/appserver/424242', '/ngp/appserver/{id}', 404],
    ];
    for (const [url, path, status] of answers) expectDocumented(await get(url), 'GET', path, status);
    expectDocumented(await s.req('GET', '/api/endeavour/job'), 'GET', '/api/endeavour/job', 401);
    expectDocumented(await s.req('DELETE', '/api/endeavour/job/1004', { sid }), 'DELETE', '/api/endeavour/job/{id}', 400);
    expectDocumented(await s.req('POST', '/api/endeavour/session', { auth: { user: 'admin', password: 'wrong' } }), 'POST', '/api/endeavour/session', 401);
    expectDocumented(await s.req('POST', '/ngp/appserver', { sid, body: { hostAddress: 5 } }), 'POST', '/ngp/appserver', 400);

    // The serializer keeps only what the schemas list: compare with what the handlers build.
    const plain = (v: unknown) => JSON.parse(JSON.stringify(v)) as unknown;
    const store = s.census.store;
    const jobs = (await get('/api/endeavour/job')).json.jobs as { id: string }[];
    // GET /job/{id} is sent pre-serialized, past the schema: the list must carry the same fields.
    expect(jobs.find((j) => j.id === '1004')).toEqual((await get('/api/endeavour/job/1004')).json);
    expect(session.json).toEqual(plain(sessionToWire(base, (await store.sessions.get(Number(sessionId)))!, systemClock)));
    expect(logs.json.logs[0]).toEqual(plain(logToWire(base, (await store.logs.get(logs.json.logs[0].id))!)));
    expect((await get(`/api/appserver/${server.json.id}`)).json).toEqual(plain(appserverWire(base, (await store.appservers.get(Number(server.json.id)))!)));
    expect((await get(`/api/identity/user/${ident.json.id}`)).json).toEqual(plain(identityWire(base, (await store.identities.get(Number(ident.json.id)))!)));
    const kept = postgresqlCollector.info.keptForNextRun!;
    const instance = (await store.inventory.instance(Number(instanceId)))!;
    const database = (await store.inventory.database(Number(dbId)))!;
    expect(instances.json.instances[0]).toEqual(plain(instanceWire(base, instance, 'database', kept.instance)));
    expect(databases.json.databases[0]).toEqual(plain(databaseWire(base, 'postgresql', database, kept.child)));
    // What the collector keeps for its next run is stored, and left out of the answers.
    expect(instance.properties).toHaveProperty('catalog');
    expect(database.properties).toHaveProperty('changeSignal');
    for (const k of kept.instance!) expect(instances.json.instances[0].properties).not.toHaveProperty(k);
    for (const k of kept.child!) expect(databases.json.databases[0].properties).not.toHaveProperty(k);
    expect(instances.json.instances[0].properties).toHaveProperty('walLevel');
    const changes = (await get(`/api/endeavour/jobsession/${sessionId}/change`)).json.changes as unknown[];
    expect(changes.length).toBeGreaterThan(0);
    const stored = await store.inventory.listChanges({ where: [], order: [{ column: 'id', direction: 'asc' }], limit: 100_000, offset: 0 }, { sessionId: Number(sessionId) });
    expect(changes).toEqual(plain(stored.items.map((c) => changeWire(base, c))));
    const tasks = (await get(`/api/endeavour/jobsession/${sessionId}/task`)).json.tasks as Record<string, unknown>[];
    expect(Object.keys(tasks[0]!).sort()).toEqual(['appserverId', 'attempts', 'duration', 'end', 'errorCode', 'id', 'links', 'message', 'name', 'start', 'status'].sort());
  });

  it('serves the browsable docs without a session, from files in the package', async () => {
    const page = await s.req('GET', '/api/docs', { exactHeaders: true });
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    expect(page.text).toContain('swagger-ui');
    const slash = await s.req('GET', '/api/docs/', { exactHeaders: true });
    expect(slash.status).toBe(200);
    for (const asset of ['swagger-ui-bundle.js', 'swagger-initializer.js', 'swagger-ui.css']) {
      const r = await s.req('GET', `/api/docs/static/${asset}`, { exactHeaders: true });
      expect(r.status, asset).toBe(200);
      expect(r.text.length, asset).toBeGreaterThan(100);
    }
    const json = await s.req('GET', '/api/docs/json', { exactHeaders: true });
    expect(json.status).toBe(200);
    expect(json.json.info.title).toBe('Census');
    // Everything else under /api still needs the session.
    expect((await s.req('GET', '/api/endeavour/job')).status).toBe(401);
    expect((await s.req('GET', '/api/docsx')).status).toBe(401);
  });
});
