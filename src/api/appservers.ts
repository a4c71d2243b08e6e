/**
 * Application servers (spec §7.1–7.3): /api/appserver and the NodeJS-layer /ngp/appserver,
 * registration one at a time or in bulk (JSON array or CSV), the per-server inventory action and
 * the connection test.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { csvRecords } from '../core/csv.ts';
import { DomainError, invalid } from '../core/errors.ts';
import { INT32_MAX, type FieldMap } from '../core/query.ts';
import type { AppServerChanges } from '../services/index.ts';
import { credentials, keyLogin, registration, settings } from './appserver-input.ts';
import { appserverWire } from './appserver-wire.ts';
import { envelope, readCollectionQuery, toListQuery } from './collection.ts';
import { actorOf, bodyObject, idParam, queryParam, type ApiContext } from './context.ts';
import { bool, str, type Body } from './input.ts';
import { baseUrl, link } from './links.ts';
import {
  AppServerActionBody, AppServerUpdateBody, answer, collectionQuery, CsvBody, InlineRegistration, NgpAppServerUpdateBody, noContent, oneOfAnswers, pathParams,
  query, RegisterBody, requestBody, routeSchema, TAGS,
} from './schemas/index.ts';


const APPSERVER_FIELDS: FieldMap = {
  id: { column: 'id', type: 'number', max: INT32_MAX }, name: { column: 'name', type: 'string' }, hostAddress: { column: 'hostAddress', type: 'string' },
  applicationType: { column: 'applicationType', type: 'string' }, osType: { column: 'osType', type: 'string' },
  portNumber: { column: 'portNumber', type: 'number', max: INT32_MAX },
};

/** `addToCatJob`: inventory the new server at once. */
const addToCatJob = (req: FastifyRequest) => bool(bodyObject(req), 'addToCatJob', false);

const APPSERVER_ID = pathParams({ id: 'Application server id.' });

export function appserverRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { appservers } = ctx.services;

  /** An update: the fields given, and credentials only if some are. */
  async function changes(req: FastifyRequest, inline: boolean): Promise<AppServerChanges> {
    const body = bodyObject(req);
    const hostAddress = str(body, 'hostAddress');
    const applicationType = str(body, 'applicationType');
    const useKey = keyLogin(body, inline);
    const name = hostAddress ?? (await appservers.get(await actorOf(ctx, req), idParam(req))).hostAddress;
    const creds = credentials(body, inline, name);
    return {
      ...settings(body),
      ...(hostAddress !== undefined ? { hostAddress } : {}),
      ...(applicationType !== undefined ? { applicationType } : {}),
      ...(useKey !== undefined ? { useKeyAuthentication: useKey } : {}),
      ...(creds ? { credentials: creds } : {}),
    };
  }

  app.post('/api/appserver', {
    schema: routeSchema({
      tag: TAGS.appservers,
      permission: 'appserver.register', summary: 'Register an application server, or many',
      description: 'One server: a JSON object, answered 201 with the server and a `Location`; `addToCatJob: true` inventories it. ' +
        'The same registration sent again (same name, address, port, type and credentials) answers 201 with the server already saved; a different one at a registered address is 409. ' +
        'Many (`?action=bulk`, or any JSON array or CSV body): a JSON array, `{"appservers": [...]}` or CSV with a header row (Content-Type text/csv), credentials inline; ' +
        'every entry is checked before any is saved, then one inventory session covers them all unless `?inventory=false`.',
      querystring: query({ action: '`bulk` for bulk registration (implied by an array or CSV body).', inventory: '`false`: bulk registration starts no inventory.' }),
      body: requestBody(RegisterBody, { required: true, otherTypes: { 'text/csv': CsvBody } }),
      ok: { 201: oneOfAnswers(['AppServer', 'AppServerBulkResult'], 'The registered server (with `Location`), or the bulk result.') },
      headers: { location: 'URL of the new server (single registration).' },
      errors: [400, 404, 409],
    }),
  }, async (req, reply) => {
    if (queryParam(req, 'action') === 'bulk' || Array.isArray(req.body) || typeof req.body === 'string') return bulk(req, reply);
    const server = await appservers.register(await actorOf(ctx, req), registration(bodyObject(req), false), { inventory: addToCatJob(req) });
    const base = baseUrl(req);
    return reply.code(201).header('location', `${base}/api/appserver/${server.id}`).send(appserverWire(base, server));
  });

  app.post('/ngp/appserver', {
    schema: routeSchema({
      tag: TAGS.appservers,
      permission: 'appserver.register', summary: 'Register an application server (NodeJS layer)',
      description: 'As the SPP UI and sppclient register: credentials may be inline (`username` with `password` or `privatekey`: Census creates the identity) or `username` may be an identity href. ' +
        'The same registration sent again answers 201 with the server already saved.',
      body: requestBody(InlineRegistration, { required: true }),
      ok: { 201: 'NgpAppServerCreated' },
      errors: [400, 404, 409],
      ngp: true,
    }),
  }, async (req, reply) => {
    const server = await appservers.register(await actorOf(ctx, req), registration(bodyObject(req), true), { inventory: addToCatJob(req) });
    return reply.code(201).send({ statusCode: 201, response: appserverWire(baseUrl(req), server) });
  });

  /**
   * Bulk registration: a JSON array (or `{appservers: [...]}`) or CSV with a header row. Every
   * entry is validated before any is saved; all are saved in one transaction, and one inventory
   * session covering them starts unless `?inventory=false`.
   */
  async function bulk(req: FastifyRequest, reply: FastifyReply) {
    const body = req.body;
    let entries: unknown[];
    if (typeof body === 'string') entries = csvRecords(body);
    else if (Array.isArray(body)) entries = body;
    else if (body && typeof body === 'object' && Array.isArray((body as Body).appservers)) entries = (body as Body).appservers as unknown[];
    else throw invalid('Bulk registration takes a JSON array of application servers, {"appservers": [...]}, or CSV with a header row.');
    const inputs = entries.map((e) => {
      try {
        if (!e || typeof e !== 'object' || Array.isArray(e)) throw invalid('not an object');
        return registration(e as Body, true);
      } catch (err) {
        if (err instanceof DomainError) return { problem: err.description };
        throw err;
      }
    });
    const { servers, sessionId } = await appservers.registerMany(await actorOf(ctx, req), inputs, { inventory: queryParam(req, 'inventory') !== 'false' });
    const base = baseUrl(req);
    return reply.code(201).send({ total: servers.length, sessionId: sessionId === null ? null : String(sessionId), appservers: servers.map((s) => appserverWire(base, s)) });
  }

  const list = async (req: FastifyRequest) => {
    const cq = readCollectionQuery(req);
    const page = await appservers.list(await actorOf(ctx, req), toListQuery(cq, APPSERVER_FIELDS, [{ property: 'id', direction: 'ASC' }]));
    const base = baseUrl(req);
    return envelope(req, 'appservers', page.items.map((a) => appserverWire(base, a)), page.total, cq.paging, {
      create: link(base, '/api/appserver', 'create'),
    });
  };
  const listSchema = (ngp: boolean) => routeSchema({
    tag: TAGS.appservers, permission: 'appserver.view', summary: ngp ? 'List application servers (NodeJS layer)' : 'List application servers',
    description: 'Filter properties: id, name, hostAddress, applicationType, osType, portNumber.', querystring: collectionQuery(),
    ok: { 200: 'AppServerList' }, errors: [400], ngp,
  });
  app.get('/api/appserver', { schema: listSchema(false) }, list);
  app.get('/ngp/appserver', { schema: listSchema(true) }, list);

  const serverOf = async (req: FastifyRequest) => appservers.get(await actorOf(ctx, req), idParam(req));

  const getSchema = (ngp: boolean) => routeSchema({
    tag: TAGS.appservers, permission: 'appserver.view', summary: ngp ? 'Get an application server (NodeJS layer)' : 'Get an application server', params: APPSERVER_ID,
    ok: { 200: 'AppServer' }, errors: [400, 404], ngp,
  });
  app.get('/api/appserver/:id', { schema: getSchema(false) }, async (req) => appserverWire(baseUrl(req), await serverOf(req)));
  app.get('/ngp/appserver/:id', { schema: getSchema(true) }, async (req) => appserverWire(baseUrl(req), await serverOf(req)));

  const unregister = async (req: FastifyRequest, reply: FastifyReply) => {
    await appservers.unregister(await actorOf(ctx, req), idParam(req));
    return reply.code(204).send();
  };
  const deleteSchema = (ngp: boolean) => routeSchema({
    tag: TAGS.appservers, permission: 'appserver.deregister', summary: ngp ? 'Unregister an application server (NodeJS layer)' : 'Unregister an application server',
    description: 'What its inventories found is kept. The identity it used is not deleted.' + (ngp ? ' `?application=true` / `?script=true` are accepted and ignored.' : ''),
    params: APPSERVER_ID, ok: { 204: noContent('Unregistered.') }, errors: [400, 404], ngp,
  });
  app.delete('/api/appserver/:id', { schema: deleteSchema(false) }, unregister);
  app.delete('/ngp/appserver/:id', { schema: deleteSchema(true) }, unregister);

  const updateSchema = (ngp: boolean) => routeSchema({
    tag: TAGS.appservers,
    permission: 'appserver.edit', summary: ngp ? 'Update an application server (NodeJS layer)' : 'Update an application server',
    description: 'Changes the registration in place: the server keeps its id and what its inventories found. Fields left out stay as they are; ' +
      'the application type cannot change. Another server at the new address, port and type is 409.' +
      (ngp ? ' Credentials may be inline (`username` with `password` or `privatekey`), as in registration.' : ''),
    params: APPSERVER_ID,
    body: requestBody(ngp ? NgpAppServerUpdateBody : AppServerUpdateBody, { required: true }),
    ok: { 200: ngp ? 'NgpAppServerUpdated' : 'AppServer' },
    errors: [400, 404, 409],
    ngp,
  });
  app.put('/api/appserver/:id', { schema: updateSchema(false) }, async (req) => {
    const server = await appservers.update(await actorOf(ctx, req), idParam(req), await changes(req, false));
    return appserverWire(baseUrl(req), server);
  });
  app.put('/ngp/appserver/:id', { schema: updateSchema(true) }, async (req) => {
    const server = await appservers.update(await actorOf(ctx, req), idParam(req), await changes(req, true));
    return { statusCode: 200, response: appserverWire(baseUrl(req), server) };
  });

  const testView = (base: string, appserverId: number, t: { id: number; complete: boolean; checks: unknown[] }) => ({
    statusHref: `${base}/api/appserver/${appserverId}/test/${t.id}`,
    testsComplete: t.complete,
    configGroups: [{ name: 'application', description: 'Connection and privileges the inventory needs', tests: t.checks }],
  });

  app.post('/api/appserver/:id', {
    schema: routeSchema({
      tag: TAGS.appservers,
      permission: { action: { inventory: 'policy.run', test: 'appserver.edit' } }, summary: 'Inventory one application server, or test its connection',
      description: '`?action=inventory` inventories this server alone (or adds it to the inventory running). ' +
        '`?action=test` checks the connection and the privileges the inventory needs, step by step.',
      params: APPSERVER_ID,
      querystring: query({ action: '`inventory` or `test`.', actionname: 'Ignored (`start`).' }),
      body: requestBody(AppServerActionBody),
      ok: { 200: oneOfAnswers(['AppServerInventoryStarted', 'ConnectionTest'], 'For `inventory`: the server and its session; for `test`: the connection test.') },
      errors: [400, 404],
    }),
  }, async (req) => {
    const actor = await actorOf(ctx, req);
    const id = idParam(req);
    const action = queryParam(req, 'action');
    if (action === 'inventory') {
      const { server, session, started } = await appservers.inventory(actor, id);
      return { appserver: appserverWire(baseUrl(req), server), sessionId: String(session.id), started };
    }
    if (action === 'test') return testView(baseUrl(req), id, await appservers.test(actor, id));
    await appservers.get(actor, id); // an unknown server is a 404 before the unknown action's 400
    throw invalid(`Unknown application server action ${JSON.stringify(action ?? null)}; use ?action=inventory or ?action=test.`);
  });

  app.get('/api/appserver/:id/test/:testId', {
    schema: routeSchema({
      tag: TAGS.appservers, permission: 'appserver.edit', summary: 'Read a connection test again', description: 'Results are kept for 24 hours.',
      params: pathParams({ id: 'Application server id.', testId: 'Connection test id (from `statusHref`).' }),
      ok: { 200: answer('ConnectionTest', 'The connection test.') }, errors: [400, 404],
    }),
  }, async (req) => {
    const id = idParam(req);
    return testView(baseUrl(req), id, await appservers.testResult(await actorOf(ctx, req), id, idParam(req, 'testId')));
  });
}
