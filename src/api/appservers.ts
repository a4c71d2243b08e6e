/**
 * Identities (/api/identity/user, spec §7.5) and application servers (/api/appserver and the
 * NodeJS-layer /ngp/appserver, spec §7.1–7.3). Secrets go in sealed and never come back out.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { badRequest, conflict, notFound, SppError } from '../core/errors.ts';
import { INT32_MAX, type FieldMap } from '../core/query.ts';
import type { AppServer, Identity } from '../core/types.ts';
import { INVENTORY_JOB_ID } from '../engine/system-jobs.ts';
import { envelope, readCollectionQuery, toListQuery } from './collection.ts';
import { bodyObject, idParam, queryParam, userName, type ApiContext } from './context.ts';
import { baseUrl, link } from './links.ts';

const IDENTITY_FIELDS: FieldMap = {
  id: { column: 'id', type: 'number', max: INT32_MAX }, name: { column: 'name', type: 'string' }, username: { column: 'username', type: 'string' },
  type: { column: 'type', type: 'string' }, ostype: { column: 'ostype', type: 'string' },
};

const APPSERVER_FIELDS: FieldMap = {
  id: { column: 'id', type: 'number', max: INT32_MAX }, name: { column: 'name', type: 'string' }, hostAddress: { column: 'hostAddress', type: 'string' },
  applicationType: { column: 'applicationType', type: 'string' }, osType: { column: 'osType', type: 'string' },
  portNumber: { column: 'portNumber', type: 'number', max: INT32_MAX },
};

const str = (body: Record<string, unknown>, key: string, opts: { required?: boolean; max?: number } = {}): string | undefined => {
  const v = body[key];
  if (v === undefined || v === null || v === '') {
    if (opts.required) throw badRequest(`"${key}" is required.`);
    return undefined;
  }
  if (typeof v !== 'string') throw badRequest(`"${key}" must be a string.`);
  if (v.length > (opts.max ?? 255)) throw badRequest(`"${key}" is longer than ${opts.max ?? 255} characters.`);
  return v;
};

const bool = (body: Record<string, unknown>, key: string, fallback: boolean): boolean => {
  const v = body[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v === 'boolean') return v;
  if (v === 'true' || v === 'false') return v === 'true';
  throw badRequest(`"${key}" must be true or false.`);
};

/** An identity reference: `{href: ".../api/identity/user/1003"}`, `{id}`, or the href string itself. */
function identityRef(v: unknown): number | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  const raw = typeof v === 'object' ? ((v as Record<string, unknown>).href ?? (v as Record<string, unknown>).id) : v;
  const m = /(?:^|\/identity\/user\/)(\d+)\/?$/.exec(String(raw ?? ''));
  if (!m) throw badRequest(`${JSON.stringify(v)} is not a reference to an identity (expected {"href": ".../api/identity/user/ID"}).`);
  // An id past the column's range names no identity (and PostgreSQL would reject the lookup).
  if (Number(m[1]) > INT32_MAX) throw notFound('Identity', m[1]!);
  return Number(m[1]);
}

export function appserverRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { store, engine, secrets, clock } = ctx;

  // ---- identities --------------------------------------------------------------------------

  const identityWire = (base: string, i: Identity) => ({
    links: {
      self: link(base, `/api/identity/user/${i.id}`, 'self'),
      up: link(base, '/api/identity/user', 'up'),
      edit: link(base, `/api/identity/user/${i.id}`, 'update'),
      delete: link(base, `/api/identity/user/${i.id}`, 'delete'),
    },
    id: String(i.id),
    name: i.name,
    username: i.username,
    type: i.type,
    ostype: i.ostype,
    comment: i.comment,
    resourceType: 'identityuser',
  });

  async function createIdentity(body: Record<string, unknown>): Promise<Identity> {
    const username = str(body, 'username', { required: true })!;
    const password = body.password;
    if (typeof password !== 'string' || password === '') throw badRequest('"password" is required and must be a string.');
    if (password.length > 1024) throw badRequest('"password" is longer than 1024 characters.');
    return store.identities.create({
      name: str(body, 'name') ?? username,
      username,
      secret: secrets.seal(password),
      type: str(body, 'type') ?? 'system',
      ostype: (str(body, 'ostype') ?? 'LINUX').toUpperCase(),
      comment: str(body, 'comment', { max: 2000 }) ?? null,
      createdAt: clock.now(),
    });
  }

  app.post('/api/identity/user', async (req, reply) => {
    const i = await createIdentity(bodyObject(req));
    const base = baseUrl(req);
    return reply.code(201).header('location', `${base}/api/identity/user/${i.id}`).send(identityWire(base, i));
  });

  app.get('/api/identity/user', async (req) => {
    const cq = readCollectionQuery(req);
    const page = await store.identities.list(toListQuery(cq, IDENTITY_FIELDS, [{ property: 'id', direction: 'ASC' }]));
    const base = baseUrl(req);
    return envelope(req, 'users', page.items.map((i) => identityWire(base, i)), page.total, cq.paging, {
      create: link(base, '/api/identity/user', 'create'),
    });
  });

  app.get('/api/identity/user/:id', async (req) => {
    const id = idParam(req);
    const i = await store.identities.get(id);
    if (!i) throw notFound('Identity', id);
    return identityWire(baseUrl(req), i);
  });

  app.delete('/api/identity/user/:id', async (req, reply) => {
    const id = idParam(req);
    if (!(await store.identities.get(id))) throw notFound('Identity', id);
    const users = await store.identities.usedBy(id);
    if (users) throw conflict(`Identity ${id} is used by ${users} application server(s); unregister them first.`);
    await store.identities.delete(id);
    return reply.code(204).send();
  });

  // ---- application servers ---------------------------------------------------------------

  const appserverWire = (base: string, a: AppServer) => {
    const self = `/api/appserver/${a.id}`;
    const identity = a.identityId === null ? null : { href: `${base}/api/identity/user/${a.identityId}` };
    return {
      links: {
        self: link(base, self, 'self'),
        up: link(base, '/api/appserver', 'up'),
        edit: link(base, self, 'update'),
        delete: link(base, self, 'delete'),
        inventory: link(base, `${self}?action=inventory&actionname=start`, 'action', 'Inventory'),
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
      logicalDelete: false,
      oskey: null,
      osuser: identity,
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
  };

  /** Validates a registration and saves it; `inline` allows username/password in place of an identity (the /ngp form). */
  async function register(body: Record<string, unknown>, inline: boolean): Promise<{ server: AppServer; addToCatJob: boolean }> {
    const hostAddress = str(body, 'hostAddress', { required: true })!.trim();
    if (!/^[A-Za-z0-9._:[\]-]+$/.test(hostAddress)) throw badRequest(`"hostAddress" ${JSON.stringify(hostAddress)} is not a host name or IP address.`);
    const applicationType = str(body, 'applicationType', { required: true })!.toLowerCase();
    if (!ctx.applicationTypes.includes(applicationType)) {
      throw badRequest(`Census cannot inventory application type "${applicationType}" yet; it can: ${ctx.applicationTypes.join(', ')}.`);
    }
    let portNumber: number | null = null;
    if (body.portNumber !== undefined && body.portNumber !== null && body.portNumber !== '') {
      portNumber = Number(body.portNumber);
      if (!Number.isInteger(portNumber) || portNumber < 1 || portNumber > 65535) throw badRequest('"portNumber" must be a whole number from 1 to 65535.');
    }
    const creds = Array.isArray(body.appCredentials) ? (body.appCredentials[0] as Record<string, unknown> | undefined) : undefined;
    let identityId = identityRef(creds?.appuser) ?? identityRef(body.osuser);
    if (identityId === undefined && inline && body.username !== undefined) {
      // /ngp form: `username` is an identity href, or a plain user name given with `password`.
      identityId = typeof body.username === 'string' && body.username.includes('/identity/user/')
        ? identityRef(body.username)
        : (await createIdentity({ name: `${str(body, 'name') ?? hostAddress} login`, username: body.username, password: body.password })).id;
    }
    if (identityId === undefined) throw badRequest('Give the credentials to use: "osuser": {"href": ".../api/identity/user/ID"}.');
    if (!(await store.identities.get(identityId))) throw notFound('Identity', identityId);
    const maxConcurrency = Number((body.opProperties as Record<string, unknown> | undefined)?.maxConcurrency ?? 10);
    const server = await store.appservers.create({
      name: str(body, 'name') ?? hostAddress,
      hostAddress,
      portNumber,
      applicationType,
      osType: (str(body, 'osType') ?? 'linux').toLowerCase(),
      identityId,
      comment: str(body, 'comment', { max: 2000 }) ?? null,
      useKeyAuthentication: bool(body, 'useKeyAuthentication', false),
      maxConcurrency: Number.isInteger(maxConcurrency) && maxConcurrency > 0 && maxConcurrency <= INT32_MAX ? maxConcurrency : 10,
      createdAt: clock.now(),
    });
    return { server, addToCatJob: bool(body, 'addToCatJob', false) };
  }

  async function afterRegister(req: FastifyRequest, server: AppServer, addToCatJob: boolean) {
    // SPP starts the application inventory on registration; Census inventories the new server.
    if (addToCatJob) await engine.startJob(INVENTORY_JOB_ID, { by: await userName(ctx, req), trigger: 'registration', appserverIds: [server.id] });
  }

  app.post('/api/appserver', async (req, reply) => {
    const { server, addToCatJob } = await register(bodyObject(req), false);
    await afterRegister(req, server, addToCatJob);
    const base = baseUrl(req);
    return reply.code(201).header('location', `${base}/api/appserver/${server.id}`).send(appserverWire(base, server));
  });

  app.post('/ngp/appserver', async (req, reply) => {
    const { server, addToCatJob } = await register(bodyObject(req), true);
    await afterRegister(req, server, addToCatJob);
    return reply.code(201).send({ statusCode: 201, response: appserverWire(baseUrl(req), server) });
  });

  const list = async (req: FastifyRequest) => {
    const cq = readCollectionQuery(req);
    const page = await store.appservers.list(toListQuery(cq, APPSERVER_FIELDS, [{ property: 'id', direction: 'ASC' }]));
    const base = baseUrl(req);
    return envelope(req, 'appservers', page.items.map((a) => appserverWire(base, a)), page.total, cq.paging, {
      create: link(base, '/api/appserver', 'create'),
    });
  };
  app.get('/api/appserver', list);
  app.get('/ngp/appserver', list);

  async function serverOr404(req: FastifyRequest): Promise<AppServer> {
    const id = idParam(req);
    const a = await store.appservers.get(id);
    if (!a) throw notFound('Application server', id);
    return a;
  }

  app.get('/api/appserver/:id', async (req) => appserverWire(baseUrl(req), await serverOr404(req)));
  app.get('/ngp/appserver/:id', async (req) => appserverWire(baseUrl(req), await serverOr404(req)));

  const unregister = async (req: FastifyRequest, reply: FastifyReply) => {
    const a = await serverOr404(req);
    await store.appservers.delete(a.id);
    return reply.code(204).send();
  };
  app.delete('/api/appserver/:id', unregister);
  app.delete('/ngp/appserver/:id', unregister);

  app.post('/api/appserver/:id', async (req) => {
    const a = await serverOr404(req);
    const action = queryParam(req, 'action');
    if (action !== 'inventory') {
      throw new SppError(400, 'XSBInvalidArgumentException', `Unknown application server action ${JSON.stringify(action ?? null)}; use ?action=inventory.`);
    }
    const { session, started } = await engine.startJob(INVENTORY_JOB_ID, { by: await userName(ctx, req), trigger: 'appserver', appserverIds: [a.id] });
    return { appserver: appserverWire(baseUrl(req), a), sessionId: String(session.id), started };
  });
}
