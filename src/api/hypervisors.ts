/**
 * Hypervisors (spec §11.4): /api/hypervisor and the NodeJS-layer /ngp/hypervisor — list,
 * register, get, update, unregister, `?action=test` and `?action=inventory`. A hypervisor is
 * registered the way an application server is (src/services/hypervisors.ts); these routes read
 * SPP's hypervisor fields (`type`, `user`) into the same input.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Actor } from '../core/actor.ts';
import { invalid } from '../core/errors.ts';
import { INT32_MAX, type FieldMap } from '../core/query.ts';
import { DEFAULT_SITE_ID, DEFAULT_SITE_NAME } from '../core/sites.ts';
import type { AppServer } from '../core/types.ts';
import type { AppServerChanges, AppServerInput } from '../services/index.ts';
import { credentials as appserverCredentials, keyLogin, settings } from './appserver-input.ts';
import { envelope, readCollectionQuery, toListQuery } from './collection.ts';
import { actorOf, bodyObject, idParam, queryParam, type ApiContext } from './context.ts';
import { bool, identityRef, str, type Body } from './input.ts';
import { baseUrl, filterQuery, link } from './links.ts';
import {
  answer, AppServerActionBody, collectionQuery, HypervisorRegistration, HypervisorUpdateBody, noContent, oneOfAnswers, pathParams, query, requestBody,
  routeSchema, TAGS, type HypervisorWire,
} from './schemas/index.ts';

const HYPERVISOR_FIELDS: FieldMap = {
  id: { column: 'id', type: 'number', max: INT32_MAX }, name: { column: 'name', type: 'string' }, hostAddress: { column: 'hostAddress', type: 'string' },
  type: { column: 'applicationType', type: 'string' }, portNumber: { column: 'portNumber', type: 'number', max: INT32_MAX },
};

const HYPERVISOR_ID = pathParams({ id: 'Hypervisor id.' });

/** What the wire adds to a stored server (which carries its site's name): its last inventory's version. */
interface Extras {
  versions: ReadonlyMap<number, string | null>;
}

export function hypervisorWire(base: string, h: AppServer, x: Extras): HypervisorWire {
  const self = `/api/hypervisor/${h.id}`;
  const identity = h.identityId === null ? null : { href: `${base}/api/identity/${h.useKeyAuthentication ? 'key' : 'user'}/${h.identityId}` };
  return {
    links: {
      self: link(base, self, 'self'),
      up: link(base, '/api/hypervisor', 'up'),
      edit: link(base, self, 'update'),
      delete: link(base, self, 'delete'),
      inventory: link(base, `${self}?action=inventory&actionname=start`, 'action', 'Inventory'),
      test: link(base, `${self}?action=test`, 'action', 'Test'),
      vms: link(base, `/api/endeavour/catalog/hypervisor/vm?embed=(children(properties))&${filterQuery([{ property: 'hypervisorId', value: String(h.id) }])}`),
    },
    id: String(h.id),
    name: h.name,
    hostAddress: h.hostAddress,
    type: h.applicationType,
    version: x.versions.get(h.id) ?? null,
    user: identity,
    useKeyAuthentication: h.useKeyAuthentication,
    portNumber: h.portNumber,
    uri: h.uri ?? null,
    tls: h.tlsMode,
    comment: h.comment,
    siteId: String(h.siteId ?? DEFAULT_SITE_ID),
    siteName: h.siteName ?? DEFAULT_SITE_NAME,
    resourceType: 'hypervisor',
    rbacPath: `root:0/hypervisor.all:0/hypervisor:${h.id}`,
  };
}

/** The login: `user` (SPP's hypervisor field), else what an application server registration accepts, credentials inline allowed. */
function login(body: Body, hostAddress: string): { useKey: boolean; creds: AppServerInput['credentials'] | undefined } {
  const ref = identityRef(body.user);
  const href = typeof body.user === 'object' && body.user !== null ? String((body.user as Body).href ?? '') : String(body.user ?? '');
  const useKey = keyLogin(body, true) ?? (ref !== undefined && href.includes('/identity/key/'));
  if (ref !== undefined) return { useKey, creds: { identityId: ref } };
  return { useKey, creds: appserverCredentials({ ...body, name: str(body, 'name') ?? hostAddress }, true, hostAddress) };
}

function registration(body: Body): AppServerInput {
  const hostAddress = str(body, 'hostAddress', { required: true })!;
  const type = str(body, 'type') ?? str(body, 'applicationType');
  if (!type) throw invalid('"type" is required: the hypervisor type, e.g. "kvm".');
  const { useKey, creds } = login(body, hostAddress);
  if (!creds) throw invalid('Give the credentials to use: "user": {"href": ".../api/identity/user/ID"}, or "username" with "password" or "privatekey".');
  // `tls` (a Census addition, as for application servers) is how a vCenter's HTTPS is checked.
  const { osType: _os, ...rest } = settings(body);
  return { hostAddress, applicationType: type, ...rest, uri: str(body, 'uri', { max: 1000 }) ?? null, useKeyAuthentication: useKey, credentials: creds };
}

export function hypervisorRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { hypervisors } = ctx.services;

  async function extras(actor: Actor, list: AppServer[]): Promise<Extras> {
    return { versions: await hypervisors.versions(actor, list.map((h) => h.id)) };
  }
  const wireOne = async (req: FastifyRequest, actor: Actor, h: AppServer) => hypervisorWire(baseUrl(req), h, await extras(actor, [h]));

  /** An update: the fields given, and credentials only if some are. */
  async function changes(req: FastifyRequest, actor: Actor): Promise<AppServerChanges> {
    const body = bodyObject(req);
    const hostAddress = str(body, 'hostAddress');
    const type = str(body, 'type') ?? str(body, 'applicationType');
    const current = await hypervisors.get(actor, idParam(req));
    const given = body.user !== undefined || body.username !== undefined || body.useKeyAuthentication !== undefined;
    const { useKey, creds } = given ? login(body, hostAddress ?? current.hostAddress) : { useKey: undefined, creds: undefined };
    const { osType: _os, ...rest } = settings(body);
    return {
      ...rest,
      ...(hostAddress !== undefined ? { hostAddress } : {}),
      ...(type !== undefined ? { applicationType: type } : {}),
      ...(body.uri !== undefined ? { uri: str(body, 'uri', { max: 1000 }) ?? null } : {}),
      ...(useKey !== undefined ? { useKeyAuthentication: useKey } : {}),
      ...(creds ? { credentials: creds } : {}),
    };
  }

  const registerSchema = (ngp: boolean) => routeSchema({
    tag: TAGS.hypervisors, permission: 'hypervisor.register', summary: ngp ? 'Register a hypervisor (NodeJS layer)' : 'Register a hypervisor',
    description: '`type` `kvm` (libvirt over SSH) or `vmware` (a vCenter\'s SOAP API over HTTPS; `tls` `require` accepts its certificate as it is, `verify` checks it). Credentials: `user` (an identity href; a `.../identity/key/ID` one logs in with its key), or `username` with `password` or `privatekey` (Census creates the identity). ' +
      'Registering starts the Hypervisor Inventory (job 1005) for it unless `addToCatJob` is false. The same registration sent again answers 201 with the hypervisor already saved; a different one at a registered address is 409.',
    body: requestBody(HypervisorRegistration, { required: true }),
    ok: { 201: ngp ? 'NgpHypervisor' : 'Hypervisor' },
    headers: ngp ? undefined : { location: 'URL of the new hypervisor.' },
    errors: [400, 404, 409], ngp,
  });
  const register = (ngp: boolean) => async (req: FastifyRequest, reply: FastifyReply) => {
    const actor = await actorOf(ctx, req);
    const body = bodyObject(req);
    const h = await hypervisors.register(actor, registration(body), { inventory: bool(body, 'addToCatJob', true) });
    const wire = await wireOne(req, actor, h);
    if (ngp) return reply.code(201).send({ statusCode: 201, response: wire });
    return reply.code(201).header('location', `${baseUrl(req)}/api/hypervisor/${h.id}`).send(wire);
  };
  app.post('/api/hypervisor', { schema: registerSchema(false) }, register(false));
  app.post('/ngp/hypervisor', { schema: registerSchema(true) }, register(true));

  const list = async (req: FastifyRequest) => {
    const actor = await actorOf(ctx, req);
    const cq = readCollectionQuery(req);
    const page = await hypervisors.list(actor, toListQuery(cq, HYPERVISOR_FIELDS, [{ property: 'id', direction: 'ASC' }]));
    const x = await extras(actor, page.items);
    const base = baseUrl(req);
    return envelope(req, 'hypervisors', page.items.map((h) => hypervisorWire(base, h, x)), page.total, cq.paging, {
      create: link(base, '/api/hypervisor', 'create'),
    });
  };
  const listSchema = (ngp: boolean) => routeSchema({
    tag: TAGS.hypervisors, permission: 'hypervisor.view', summary: ngp ? 'List hypervisors (NodeJS layer)' : 'List hypervisors',
    description: 'Filter and sort properties: id, name, hostAddress, type, portNumber. Application servers are not listed here.', querystring: collectionQuery(),
    ok: { 200: 'HypervisorList' }, errors: [400], ngp,
  });
  app.get('/api/hypervisor', { schema: listSchema(false) }, list);
  app.get('/ngp/hypervisor', { schema: listSchema(true) }, list);

  const getSchema = (ngp: boolean) => routeSchema({
    tag: TAGS.hypervisors, permission: 'hypervisor.view', summary: ngp ? 'Get a hypervisor (NodeJS layer)' : 'Get a hypervisor', params: HYPERVISOR_ID,
    description: 'An application server\'s id is 404 here.', ok: { 200: 'Hypervisor' }, errors: [400, 404], ngp,
  });
  const getOne = async (req: FastifyRequest) => {
    const actor = await actorOf(ctx, req);
    return wireOne(req, actor, await hypervisors.get(actor, idParam(req)));
  };
  app.get('/api/hypervisor/:id', { schema: getSchema(false) }, getOne);
  app.get('/ngp/hypervisor/:id', { schema: getSchema(true) }, getOne);

  const updateSchema = (ngp: boolean) => routeSchema({
    tag: TAGS.hypervisors, permission: 'hypervisor.edit', summary: ngp ? 'Update a hypervisor (NodeJS layer)' : 'Update a hypervisor',
    description: 'Changes the registration in place: it keeps its id and what its inventories found. Fields left out stay; the type cannot change. Another hypervisor at the new address, port and type is 409.',
    params: HYPERVISOR_ID, body: requestBody(HypervisorUpdateBody, { required: true }),
    ok: { 200: ngp ? 'NgpHypervisor' : 'Hypervisor' }, errors: [400, 404, 409], ngp,
  });
  const update = (ngp: boolean) => async (req: FastifyRequest) => {
    const actor = await actorOf(ctx, req);
    const h = await hypervisors.update(actor, idParam(req), await changes(req, actor));
    const wire = await wireOne(req, actor, h);
    return ngp ? { statusCode: 200, response: wire } : wire;
  };
  app.put('/api/hypervisor/:id', { schema: updateSchema(false) }, update(false));
  app.put('/ngp/hypervisor/:id', { schema: updateSchema(true) }, update(true));

  const deleteSchema = (ngp: boolean) => routeSchema({
    tag: TAGS.hypervisors, permission: 'hypervisor.deregister', summary: ngp ? 'Unregister a hypervisor (NodeJS layer)' : 'Unregister a hypervisor',
    description: 'What its inventories found is kept (its VMs leave the catalog). The identity it used is not deleted.',
    params: HYPERVISOR_ID, ok: { 204: noContent('Unregistered.') }, errors: [400, 404], ngp,
  });
  const unregister = async (req: FastifyRequest, reply: FastifyReply) => {
    await hypervisors.unregister(await actorOf(ctx, req), idParam(req));
    return reply.code(204).send();
  };
  app.delete('/api/hypervisor/:id', { schema: deleteSchema(false) }, unregister);
  app.delete('/ngp/hypervisor/:id', { schema: deleteSchema(true) }, unregister);

  const testView = (base: string, id: number, t: { id: number; complete: boolean; checks: unknown[] }) => ({
    statusHref: `${base}/api/hypervisor/${id}/test/${t.id}`,
    testsComplete: t.complete,
    configGroups: [{ name: 'hypervisor', description: 'Connection and privileges the inventory needs', tests: t.checks }],
  });

  const actionSchema = (ngp: boolean) => routeSchema({
    tag: TAGS.hypervisors, permission: { action: { inventory: 'policy.run', test: 'hypervisor.edit' } },
    summary: ngp ? 'Inventory one hypervisor, or test its connection (NodeJS layer)' : 'Inventory one hypervisor, or test its connection',
    description: '`?action=test` checks the connection and what the inventory needs, step by step (the same shape as an application server\'s). ' +
      '`?action=inventory` inventories this hypervisor alone (or adds it to the Hypervisor Inventory running).',
    params: HYPERVISOR_ID, querystring: query({ action: '`test` or `inventory`.', actionname: 'Ignored (`start`).' }),
    body: requestBody(AppServerActionBody),
    ok: { 200: oneOfAnswers(['HypervisorInventoryStarted', 'ConnectionTest'], 'For `inventory`: the hypervisor and its session; for `test`: the connection test.') },
    errors: [400, 404], ngp,
  });
  const action = async (req: FastifyRequest) => {
    const actor = await actorOf(ctx, req);
    const id = idParam(req);
    const what = queryParam(req, 'action');
    if (what === 'inventory') {
      const { server, session, started } = await hypervisors.inventory(actor, id);
      return { hypervisor: await wireOne(req, actor, server), sessionId: String(session.id), started };
    }
    if (what === 'test') return testView(baseUrl(req), id, await hypervisors.test(actor, id));
    await hypervisors.get(actor, id); // an unknown hypervisor is a 404 before the unknown action's 400
    throw invalid(`Unknown hypervisor action ${JSON.stringify(what ?? null)}; use ?action=test or ?action=inventory.`);
  };
  app.post('/api/hypervisor/:id', { schema: actionSchema(false) }, action);
  app.post('/ngp/hypervisor/:id', { schema: actionSchema(true) }, action);

  app.get('/api/hypervisor/:id/test/:testId', {
    schema: routeSchema({
      tag: TAGS.hypervisors, permission: 'hypervisor.edit', summary: 'Read a hypervisor connection test again', description: 'Results are kept for 24 hours.',
      params: pathParams({ id: 'Hypervisor id.', testId: 'Connection test id (from `statusHref`).' }),
      ok: { 200: answer('ConnectionTest', 'The connection test.') }, errors: [400, 404],
    }),
  }, async (req) => {
    const id = idParam(req);
    return testView(baseUrl(req), id, await hypervisors.testResult(await actorOf(ctx, req), id, idParam(req, 'testId')));
  });
}
