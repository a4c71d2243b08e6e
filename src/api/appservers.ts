/**
 * Application servers (spec §7.1–7.3): /api/appserver and the NodeJS-layer /ngp/appserver,
 * registration one at a time or in bulk (JSON array or CSV), the per-server inventory action and
 * the connection test.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { TLS_MODES } from '../core/tls-mode.ts';
import { csvRecords } from '../core/csv.ts';
import { badRequest, conflict, notFound, SppError } from '../core/errors.ts';
import { asNumber, INT32_MAX, type FieldMap } from '../core/query.ts';
import type { AppServer, Identity } from '../core/types.ts';
import { INVENTORY_JOB_ID } from '../engine/system-jobs.ts';
import type { Repositories } from '../store/index.ts';
import { envelope, readCollectionQuery, toListQuery } from './collection.ts';
import { bodyObject, idParam, queryParam, userName, type ApiContext } from './context.ts';
import { identityDraft, type IdentityKind } from './identities.ts';
import { bool, identityRef, str, type Body } from './input.ts';
import { baseUrl, link } from './links.ts';
import { answer, collectionQuery, noContent, oneOfAnswers, pathParams, query, requestBody, routeSchema, TAGS } from './schemas.ts';

const APPSERVER_FIELDS: FieldMap = {
  id: { column: 'id', type: 'number', max: INT32_MAX }, name: { column: 'name', type: 'string' }, hostAddress: { column: 'hostAddress', type: 'string' },
  applicationType: { column: 'applicationType', type: 'string' }, osType: { column: 'osType', type: 'string' },
  portNumber: { column: 'portNumber', type: 'number', max: INT32_MAX },
};

const byEntry = (a: string, b: string) => Number(/\d+/.exec(a)?.[0]) - Number(/\d+/.exec(b)?.[0]);

/** Most servers one bulk request may register. */
const MAX_BULK = 5_000;

const IDENTITY_REF = {
  description: 'An identity: `{"href": ".../api/identity/user/ID"}` (or `.../identity/key/ID`), `{"id": ID}`, or the href or id itself.',
  anyOf: [
    { type: 'object', properties: { href: { type: 'string' }, id: { anyOf: [{ type: 'string' }, { type: 'integer' }] } }, additionalProperties: true },
    { type: 'string' },
    { type: 'integer' },
  ],
};

/** One registration as the handlers read it (documentation: parseRegistration checks it). */
const REGISTRATION = {
  type: 'object',
  required: ['hostAddress', 'applicationType'],
  properties: {
    name: { type: 'string', maxLength: 255, description: 'Default: the host address.' },
    hostAddress: { type: 'string', maxLength: 255, description: 'Host name or IP address.' },
    portNumber: { description: 'Database port (SSH port for file hosts); a number or a numeric string. Default: the type\'s `defaultPort` (GET /api/census/collector).', anyOf: [{ type: 'integer', minimum: 1, maximum: 65535 }, { type: 'string' }, { type: 'null' }] },
    applicationType: { type: 'string', description: 'An application type Census can inventory: a `type` of GET /api/census/collector.' },
    osType: { type: 'string', description: 'Default `linux`.' },
    comment: { type: 'string', maxLength: 2000 },
    tls: { type: 'string', enum: ['disable', 'require', 'verify'], description: 'How database logins use TLS (default `disable`). A Census addition.' },
    useKeyAuthentication: { description: 'Log in with an SSH key identity (`oskey`).', anyOf: [{ type: 'boolean' }, { type: 'string', enum: ['true', 'false'] }] },
    osuser: { ...IDENTITY_REF, description: `The password identity to log in with. ${IDENTITY_REF.description}` },
    oskey: { ...IDENTITY_REF, description: `The SSH key identity, with useKeyAuthentication. ${IDENTITY_REF.description}` },
    appCredentials: { type: 'array', description: '`[{"appuser": {"href": …}}]`: taken before `osuser`.', items: { type: 'object', properties: { appuser: IDENTITY_REF }, additionalProperties: true } },
    identity: { description: 'An identity id or href (alternative to `osuser`).', anyOf: [{ type: 'string' }, { type: 'integer' }] },
    addToCatJob: { description: 'Inventory the server at once (or add it to the inventory running).', anyOf: [{ type: 'boolean' }, { type: 'string', enum: ['true', 'false'] }] },
    opProperties: { type: 'object', properties: { maxConcurrency: { type: 'integer', minimum: 1 } }, additionalProperties: true },
  },
  additionalProperties: true,
};

/** A registration with the credentials inline, as /ngp/appserver and bulk registration take them. */
const INLINE_REGISTRATION = {
  ...REGISTRATION,
  properties: {
    ...REGISTRATION.properties,
    username: { type: 'string', description: 'User name (an identity is created with `password` or `privatekey`), or an identity href.' },
    password: { type: 'string', writeOnly: true },
    privatekey: { type: 'string', writeOnly: true, description: 'SSH private key: the server uses key authentication.' },
    passphrase: { type: 'string', writeOnly: true },
  },
};

const APPSERVER_ID = pathParams({ id: 'Application server id.' });

/** A validated registration, not yet saved: the server and where its credentials come from. */
interface Draft {
  server: Omit<AppServer, 'id' | 'identityId'>;
  identity: { id: number } | { draft: Omit<Identity, 'id'> };
  addToCatJob: boolean;
}

export function appserverWire(base: string, a: AppServer) {
  const self = `/api/appserver/${a.id}`;
  const identity = a.identityId === null ? null : { href: `${base}/api/identity/${a.useKeyAuthentication ? 'key' : 'user'}/${a.identityId}` };
  return {
    links: {
      self: link(base, self, 'self'),
      up: link(base, '/api/appserver', 'up'),
      edit: link(base, self, 'update'),
      delete: link(base, self, 'delete'),
      inventory: link(base, `${self}?action=inventory&actionname=start`, 'action', 'Inventory'),
      test: link(base, `${self}?action=test`, 'action', 'Test'),
      instances: link(base, `/api/application/${a.applicationType}/instance?${new URLSearchParams({ filter: JSON.stringify([{ property: 'appserverId', value: String(a.id) }]) })}`),
    },
    id: String(a.id),
    name: a.name,
    hostAddress: a.hostAddress,
    comment: a.comment,
    catalogEligible: true,
    serverType: 'physical',
    vsphereId: null,
    applicationType: a.applicationType,
    applicationTypes: [a.applicationType],
    osType: a.osType,
    useKeyAuthentication: a.useKeyAuthentication,
    tls: a.tlsMode,
    logicalDelete: false,
    oskey: a.useKeyAuthentication ? identity : null,
    osuser: a.useKeyAuthentication ? null : identity,
    appCredentials: [],
    portNumber: a.portNumber,
    opProperties: { maxConcurrency: a.maxConcurrency },
    application: true,
    script: false,
    metadataPath: null,
    siteName: 'Primary',
    siteId: '1000',
    nodeId: null,
    type: 'appserver',
    resourceType: 'appserver',
    rbacPath: `root:0/appserver.all:0/appserver:${a.id}`,
  };
}

export function appserverRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { store, engine, clock } = ctx;

  /**
   * Validates one registration (no writes). `inline` allows credentials in the body itself —
   * `username` with `password` or `privatekey` — as /ngp and bulk registration do.
   */
  function parseRegistration(body: Body, inline: boolean): Draft {
    const hostAddress = str(body, 'hostAddress', { required: true })!.trim();
    if (!/^[A-Za-z0-9._:[\]-]+$/.test(hostAddress)) throw badRequest(`"hostAddress" ${JSON.stringify(hostAddress)} is not a host name or IP address.`);
    const applicationType = str(body, 'applicationType', { required: true })!.toLowerCase();
    const collector = ctx.collectors.find((c) => c.type === applicationType);
    if (!collector) {
      throw badRequest(`Census cannot inventory application type "${applicationType}" yet; it can: ${ctx.collectors.map((c) => c.type).join(', ')}.`);
    }
    let portNumber: number | null = null;
    if (body.portNumber !== undefined && body.portNumber !== null && body.portNumber !== '') {
      portNumber = asNumber(body.portNumber);
      if (!Number.isInteger(portNumber) || portNumber < 1 || portNumber > 65535) throw badRequest('"portNumber" must be a whole number from 1 to 65535.');
    }
    const maxConcurrency = asNumber((body.opProperties as Body | undefined)?.maxConcurrency ?? 10);
    const tlsMode = (str(body, 'tls') ?? 'disable').toLowerCase();
    if (!(TLS_MODES as readonly string[]).includes(tlsMode)) throw badRequest(`"tls" must be one of ${TLS_MODES.join(', ')}.`);
    const useKey = bool(body, 'useKeyAuthentication', false) || (inline && typeof (body.privatekey ?? body.privateKey) === 'string');
    if (!collector.identityKinds.includes(useKey ? 'key' : 'password')) {
      const how = (k: string) => (k === 'key' ? 'an SSH key' : 'a password');
      throw badRequest(`A ${applicationType} server logs in with ${collector.identityKinds.map(how).join(' or ')}, not with ${how(useKey ? 'key' : 'password')}.`);
    }
    const creds = Array.isArray(body.appCredentials) ? (body.appCredentials[0] as Body | undefined) : undefined;
    const ref = identityRef(useKey ? body.oskey : undefined) ?? identityRef(creds?.appuser) ?? identityRef(body.osuser) ??
      (typeof body.identity === 'string' || typeof body.identity === 'number' ? identityRef(String(body.identity)) : undefined);
    let identity: Draft['identity'];
    if (ref !== undefined) identity = { id: ref };
    else if (inline && typeof body.username === 'string' && body.username.includes('/identity/')) identity = { id: identityRef(body.username)! };
    else if (inline && body.username !== undefined) {
      const kind: IdentityKind = useKey ? 'key' : 'password';
      identity = { draft: identityDraft(ctx, { ...body, name: `${str(body, 'name') ?? hostAddress} login` }, kind) };
    } else {
      throw badRequest('Give the credentials to use: "osuser": {"href": ".../api/identity/user/ID"} (or "oskey" with useKeyAuthentication).');
    }
    return {
      server: {
        name: str(body, 'name') ?? hostAddress,
        hostAddress,
        portNumber,
        applicationType,
        osType: (str(body, 'osType') ?? 'linux').toLowerCase(),
        comment: str(body, 'comment', { max: 2000 }) ?? null,
        useKeyAuthentication: useKey,
        maxConcurrency: Number.isInteger(maxConcurrency) && maxConcurrency > 0 && maxConcurrency <= INT32_MAX ? maxConcurrency : 10,
        createdAt: clock.now(),
        tlsMode,
      },
      identity,
      addToCatJob: bool(body, 'addToCatJob', false),
    };
  }

  /**
   * Checks what needs the store: the identity exists and is of the right kind, and the server is
   * new. Returns the server already saved when this is a retry of the same registration.
   */
  async function checkDraft(r: Repositories, d: Draft): Promise<AppServer | undefined> {
    if ('id' in d.identity) {
      const i = await r.identities.get(d.identity.id);
      if (!i) throw notFound('Identity', d.identity.id);
      if ((i.kind === 'key') !== d.server.useKeyAuthentication) {
        throw badRequest(i.kind === 'key'
          ? `Identity ${i.id} is an SSH key: register with "useKeyAuthentication": true and "oskey".`
          : `Identity ${i.id} holds a password, but "useKeyAuthentication" is true.`);
      }
    }
    const same = (await r.appservers.all()).find((a) =>
      a.hostAddress.toLowerCase() === d.server.hostAddress.toLowerCase() && a.portNumber === d.server.portNumber && a.applicationType === d.server.applicationType);
    if (same && (await isRetry(r, same, d))) return same;
    if (same) throw conflict(`${d.server.hostAddress}${d.server.portNumber ? `:${d.server.portNumber}` : ''} (${d.server.applicationType}) is already registered as "${same.name}" (id ${same.id}).`);
  }

  /**
   * A client whose registration was saved but whose 201 never reached it (the server was killed,
   * the connection dropped) sends it again: the same name, address, port, type and credentials
   * get the server it already made rather than a 409 (docs/compat.md).
   */
  async function isRetry(r: Repositories, a: AppServer, d: Draft): Promise<boolean> {
    if (a.name !== d.server.name || a.useKeyAuthentication !== d.server.useKeyAuthentication || a.identityId === null) return false;
    if ('id' in d.identity) return a.identityId === d.identity.id;
    const had = await r.identities.get(a.identityId);
    const want = d.identity.draft;
    if (!had || had.kind !== want.kind || had.username !== want.username) return false;
    try {
      return ctx.secrets.open(had.secret) === ctx.secrets.open(want.secret);
    } catch {
      return false; // sealed under another key: not knowingly the same credentials
    }
  }

  async function save(r: Repositories, d: Draft): Promise<AppServer> {
    const identityId = 'id' in d.identity ? d.identity.id : (await r.identities.create(d.identity.draft)).id;
    return r.appservers.create({ ...d.server, identityId });
  }

  async function registerOne(req: FastifyRequest, inline: boolean): Promise<AppServer> {
    const draft = parseRegistration(bodyObject(req), inline);
    const server = await store.transaction(async (r) => (await checkDraft(r, draft)) ?? save(r, draft));
    // SPP starts the application inventory on registration; Census inventories the new server
    // (or adds it to the inventory already running).
    if (draft.addToCatJob) {
      await engine.startJob(INVENTORY_JOB_ID, { by: await userName(ctx, req), trigger: 'registration', appserverIds: [server.id] });
    }
    return server;
  }

  app.post('/api/appserver', {
    schema: routeSchema({
      tag: TAGS.appservers,
      summary: 'Register an application server, or many',
      description: 'One server: a JSON object, answered 201 with the server and a `Location`; `addToCatJob: true` inventories it. ' +
        'The same registration sent again (same name, address, port, type and credentials) answers 201 with the server already saved; a different one at a registered address is 409. ' +
        'Many (`?action=bulk`, or any JSON array or CSV body): a JSON array, `{"appservers": [...]}` or CSV with a header row (Content-Type text/csv), credentials inline; ' +
        'every entry is checked before any is saved, then one inventory session covers them all unless `?inventory=false`.',
      querystring: query({ action: '`bulk` for bulk registration (implied by an array or CSV body).', inventory: '`false`: bulk registration starts no inventory.' }),
      body: requestBody({
        content: {
          'application/json': {
            schema: {
              anyOf: [
                REGISTRATION,
                { type: 'array', items: INLINE_REGISTRATION, maxItems: 5000 },
                { type: 'object', required: ['appservers'], properties: { appservers: { type: 'array', items: INLINE_REGISTRATION } }, additionalProperties: true },
              ],
            },
          },
          'text/csv': { schema: { type: 'string', description: 'A header row of field names (name, hostAddress, portNumber, applicationType, username, password, …), then one server per row.' } },
        },
      }, { required: true }),
      ok: { 201: oneOfAnswers(['AppServer', 'AppServerBulkResult'], 'The registered server (with `Location`), or the bulk result.') },
      headers: { location: 'URL of the new server (single registration).' },
      errors: [400, 404, 409],
    }),
  }, async (req, reply) => {
    if (queryParam(req, 'action') === 'bulk' || Array.isArray(req.body) || typeof req.body === 'string') return bulk(req, reply);
    const server = await registerOne(req, false);
    const base = baseUrl(req);
    return reply.code(201).header('location', `${base}/api/appserver/${server.id}`).send(appserverWire(base, server));
  });

  app.post('/ngp/appserver', {
    schema: routeSchema({
      tag: TAGS.appservers,
      summary: 'Register an application server (NodeJS layer)',
      description: 'As the SPP UI and sppclient register: credentials may be inline (`username` with `password` or `privatekey`: Census creates the identity) or `username` may be an identity href. ' +
        'The same registration sent again answers 201 with the server already saved.',
      body: requestBody(INLINE_REGISTRATION, { required: true }),
      ok: { 201: 'NgpAppServerCreated' },
      errors: [400, 404, 409],
      ngp: true,
    }),
  }, async (req, reply) => {
    const server = await registerOne(req, true);
    return reply.code(201).send({ statusCode: 201, response: appserverWire(baseUrl(req), server) });
  });

  /**
   * Bulk registration: a JSON array (or `{appservers: [...]}`) or CSV with a header row. Every
   * entry is validated before any is saved; all are saved in one transaction, and one inventory
   * session covering them starts unless `?inventory=false`.
   */
  async function bulk(req: FastifyRequest, reply: FastifyReply) {
    const body = req.body;
    let entries: Body[];
    if (typeof body === 'string') entries = csvRecords(body);
    else if (Array.isArray(body)) entries = body as Body[];
    else if (body && typeof body === 'object' && Array.isArray((body as Body).appservers)) entries = (body as Body).appservers as Body[];
    else throw badRequest('Bulk registration takes a JSON array of application servers, {"appservers": [...]}, or CSV with a header row.');
    if (!entries.length) throw badRequest('Bulk registration needs at least one application server.');
    if (entries.length > MAX_BULK) throw badRequest(`Bulk registration takes at most ${MAX_BULK} application servers at once.`);

    const problems: string[] = [];
    const drafts: { entry: number; draft: Draft }[] = [];
    entries.forEach((e, i) => {
      try {
        if (!e || typeof e !== 'object' || Array.isArray(e)) throw badRequest('not an object');
        drafts.push({ entry: i + 1, draft: parseRegistration(e, true) });
      } catch (err) {
        problems.push(`entry ${i + 1}: ${err instanceof SppError ? err.description : (err as Error).message}`);
      }
    });
    const seen = new Map<string, number>();
    for (const { entry, draft: d } of drafts) {
      const key = `${d.server.hostAddress.toLowerCase()}|${d.server.portNumber}|${d.server.applicationType}`;
      if (seen.has(key)) problems.push(`entry ${entry}: the same server as entry ${seen.get(key)}`);
      else seen.set(key, entry);
    }
    const refuse = () => new SppError(400, 'XSBInvalidArgumentException',
      `Nothing was registered. ${problems.length} problem(s): ${problems.sort(byEntry).slice(0, 50).join('; ')}`);
    if (problems.length) throw refuse();

    const servers = await store.transaction(async (r) => {
      // A retried bulk registration gets the servers its first attempt saved, the way one does.
      const already: (AppServer | undefined)[] = [];
      for (const { entry, draft } of drafts) {
        try {
          already.push(await checkDraft(r, draft));
        } catch (err) {
          problems.push(`entry ${entry}: ${err instanceof SppError ? err.description : (err as Error).message}`);
        }
      }
      if (problems.length) throw refuse();
      const saved: AppServer[] = [];
      for (const [i, { draft }] of drafts.entries()) saved.push(already[i] ?? (await save(r, draft)));
      return saved;
    });
    let sessionId: string | null = null;
    if (queryParam(req, 'inventory') !== 'false') {
      const { session } = await engine.startJob(INVENTORY_JOB_ID, { by: await userName(ctx, req), trigger: 'registration', appserverIds: servers.map((s) => s.id) });
      sessionId = String(session.id);
    }
    const base = baseUrl(req);
    return reply.code(201).send({ total: servers.length, sessionId, appservers: servers.map((s) => appserverWire(base, s)) });
  }

  const list = async (req: FastifyRequest) => {
    const cq = readCollectionQuery(req);
    const page = await store.appservers.list(toListQuery(cq, APPSERVER_FIELDS, [{ property: 'id', direction: 'ASC' }]));
    const base = baseUrl(req);
    return envelope(req, 'appservers', page.items.map((a) => appserverWire(base, a)), page.total, cq.paging, {
      create: link(base, '/api/appserver', 'create'),
    });
  };
  const listSchema = (ngp: boolean) => routeSchema({
    tag: TAGS.appservers, summary: ngp ? 'List application servers (NodeJS layer)' : 'List application servers',
    description: 'Filter properties: id, name, hostAddress, applicationType, osType, portNumber.', querystring: collectionQuery(),
    ok: { 200: 'AppServerList' }, errors: [400], ngp,
  });
  app.get('/api/appserver', { schema: listSchema(false) }, list);
  app.get('/ngp/appserver', { schema: listSchema(true) }, list);

  async function serverOr404(req: FastifyRequest): Promise<AppServer> {
    const id = idParam(req);
    const a = await store.appservers.get(id);
    if (!a) throw notFound('Application server', id);
    return a;
  }

  const getSchema = (ngp: boolean) => routeSchema({
    tag: TAGS.appservers, summary: ngp ? 'Get an application server (NodeJS layer)' : 'Get an application server', params: APPSERVER_ID,
    ok: { 200: 'AppServer' }, errors: [400, 404], ngp,
  });
  app.get('/api/appserver/:id', { schema: getSchema(false) }, async (req) => appserverWire(baseUrl(req), await serverOr404(req)));
  app.get('/ngp/appserver/:id', { schema: getSchema(true) }, async (req) => appserverWire(baseUrl(req), await serverOr404(req)));

  const unregister = async (req: FastifyRequest, reply: FastifyReply) => {
    const a = await serverOr404(req);
    await store.appservers.delete(a.id);
    return reply.code(204).send();
  };
  const deleteSchema = (ngp: boolean) => routeSchema({
    tag: TAGS.appservers, summary: ngp ? 'Unregister an application server (NodeJS layer)' : 'Unregister an application server',
    description: 'What its inventories found is kept. The identity it used is not deleted.' + (ngp ? ' `?application=true` / `?script=true` are accepted and ignored.' : ''),
    params: APPSERVER_ID, ok: { 204: noContent('Unregistered.') }, errors: [400, 404], ngp,
  });
  app.delete('/api/appserver/:id', { schema: deleteSchema(false) }, unregister);
  app.delete('/ngp/appserver/:id', { schema: deleteSchema(true) }, unregister);

  const testView = (base: string, appserverId: number, t: { id: number; complete: boolean; checks: unknown[] }) => ({
    statusHref: `${base}/api/appserver/${appserverId}/test/${t.id}`,
    testsComplete: t.complete,
    configGroups: [{ name: 'application', description: 'Connection and privileges the inventory needs', tests: t.checks }],
  });

  app.post('/api/appserver/:id', {
    schema: routeSchema({
      tag: TAGS.appservers,
      summary: 'Inventory one application server, or test its connection',
      description: '`?action=inventory` inventories this server alone (or adds it to the inventory running). ' +
        '`?action=test` checks the connection and the privileges the inventory needs, step by step.',
      params: APPSERVER_ID,
      querystring: query({ action: '`inventory` or `test`.', actionname: 'Ignored (`start`).' }),
      body: requestBody({ type: 'object', description: 'Ignored: no body, `{}` or `{"type": "application"}`.', properties: { type: { type: 'string' } }, additionalProperties: true }),
      ok: { 200: oneOfAnswers(['AppServerInventoryStarted', 'ConnectionTest'], 'For `inventory`: the server and its session; for `test`: the connection test.') },
      errors: [400, 404],
    }),
  }, async (req) => {
    const a = await serverOr404(req);
    const action = queryParam(req, 'action');
    if (action === 'inventory') {
      const { session, started } = await engine.startJob(INVENTORY_JOB_ID, { by: await userName(ctx, req), trigger: 'appserver', appserverIds: [a.id] });
      return { appserver: appserverWire(baseUrl(req), a), sessionId: String(session.id), started };
    }
    if (action === 'test') {
      const checks = await engine.testConnection(a.id);
      const saved = await store.connectionTests.save(a.id, clock.now(), checks);
      await store.connectionTests.deleteBefore(clock.now() - 24 * 3_600_000);
      return testView(baseUrl(req), a.id, saved);
    }
    throw new SppError(400, 'XSBInvalidArgumentException', `Unknown application server action ${JSON.stringify(action ?? null)}; use ?action=inventory or ?action=test.`);
  });

  app.get('/api/appserver/:id/test/:testId', {
    schema: routeSchema({
      tag: TAGS.appservers, summary: 'Read a connection test again', description: 'Results are kept for 24 hours.',
      params: pathParams({ id: 'Application server id.', testId: 'Connection test id (from `statusHref`).' }),
      ok: { 200: answer('ConnectionTest', 'The connection test.') }, errors: [400, 404],
    }),
  }, async (req) => {
    const a = await serverOr404(req);
    const testId = idParam(req, 'testId');
    const t = await store.connectionTests.get(testId);
    if (!t || t.appserverId !== a.id) throw notFound('Connection test', testId);
    return testView(baseUrl(req), a.id, t);
  });
}
