/**
 * Identities (spec §7.5): user/password credentials at /api/identity/user and SSH keys at
 * /api/identity/key. Secrets go in sealed and never come back out, not even masked.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { badRequest, conflict, notFound } from '../core/errors.ts';
import { INT32_MAX, type FieldMap } from '../core/query.ts';
import type { Identity } from '../core/types.ts';
import { envelope, readCollectionQuery, toListQuery } from './collection.ts';
import { bodyObject, idParam, type ApiContext } from './context.ts';
import { str, type Body } from './input.ts';
import { baseUrl, link } from './links.ts';
import { answer, collectionQuery, noContent, pathParams, requestBody, routeSchema, TAGS, type ComponentId } from './schemas.ts';

const IDENTITY_FIELDS: FieldMap = {
  id: { column: 'id', type: 'number', max: INT32_MAX }, name: { column: 'name', type: 'string' }, username: { column: 'username', type: 'string' },
  type: { column: 'type', type: 'string' }, ostype: { column: 'ostype', type: 'string' },
};

const KINDS = {
  password: { path: '/api/identity/user', key: 'users', resourceType: 'identityuser', list: 'UserIdentityList', what: 'user name and password identity' },
  key: { path: '/api/identity/key', key: 'keys', resourceType: 'identitykey', list: 'KeyIdentityList', what: 'SSH key identity' },
} as const satisfies Record<string, { path: string; key: string; resourceType: string; list: ComponentId; what: string }>;

const COMMON_FIELDS = {
  name: { type: 'string', maxLength: 255, description: 'Default: the user name.' },
  username: { type: 'string', maxLength: 255 },
  type: { type: 'string', description: 'Default `system`.' },
  ostype: { type: 'string', description: 'Default `LINUX`.' },
  comment: { type: 'string', maxLength: 2000 },
};

const CREATE_BODY = {
  password: requestBody({
    type: 'object',
    description: 'A user name and password. The password is sealed (AES-256-GCM) and never returned.',
    required: ['username', 'password'],
    properties: { ...COMMON_FIELDS, password: { type: 'string', minLength: 1, maxLength: 1024, writeOnly: true } },
    additionalProperties: true,
  }, { required: true }),
  key: requestBody({
    type: 'object',
    description: 'A user name and an SSH private key (OpenSSH or PEM). The key and passphrase are sealed and never returned.',
    required: ['username', 'privatekey'],
    properties: {
      ...COMMON_FIELDS,
      privatekey: { type: 'string', maxLength: 16384, writeOnly: true, description: '-----BEGIN … PRIVATE KEY----- (`privateKey` is read too).' },
      passphrase: { type: 'string', maxLength: 1024, writeOnly: true, description: 'If the key has one.' },
    },
    additionalProperties: true,
  }, { required: true }),
};
type Kind = keyof typeof KINDS;

export function identityWire(base: string, i: Identity) {
  const k = KINDS[i.kind as Kind] ?? KINDS.password;
  const self = `${k.path}/${i.id}`;
  return {
    links: {
      self: link(base, self, 'self'),
      up: link(base, k.path, 'up'),
      edit: link(base, self, 'update'),
      delete: link(base, self, 'delete'),
    },
    id: String(i.id),
    name: i.name,
    username: i.username,
    type: i.type,
    ostype: i.ostype,
    comment: i.comment,
    keytype: i.kind === 'key' ? 'ssh_private_key' : undefined,
    resourceType: k.resourceType,
  };
}

/**
 * Validates and seals a new identity without saving it. Password identities need `password`;
 * key identities `privatekey` (and `passphrase` if the key has one).
 */
export function identityDraft(ctx: ApiContext, body: Body, kind: Kind): Omit<Identity, 'id'> {
  const username = str(body, 'username', { required: true })!;
  let sealed: string;
  if (kind === 'password') {
    const password = body.password;
    if (typeof password !== 'string' || password === '') throw badRequest('"password" is required and must be a string.');
    if (password.length > 1024) throw badRequest('"password" is longer than 1024 characters.');
    sealed = ctx.secrets.seal(password);
  } else {
    const privateKey = body.privatekey ?? body.privateKey;
    if (typeof privateKey !== 'string' || !/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(privateKey)) {
      throw badRequest('"privatekey" is required: an SSH private key in OpenSSH or PEM form (-----BEGIN … PRIVATE KEY-----).');
    }
    if (privateKey.length > 16_384) throw badRequest('"privatekey" is longer than 16 KiB.');
    const passphrase = str(body, 'passphrase', { max: 1024 }) ?? null;
    sealed = ctx.secrets.seal(JSON.stringify({ privateKey, passphrase }));
  }
  return {
    name: str(body, 'name') ?? username,
    username,
    kind,
    secret: sealed,
    type: str(body, 'type') ?? 'system',
    ostype: (str(body, 'ostype') ?? 'LINUX').toUpperCase(),
    comment: str(body, 'comment', { max: 2000 }) ?? null,
    createdAt: ctx.clock.now(),
  };
}

export type IdentityKind = Kind;

export function identityRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { store } = ctx;
  for (const kind of Object.keys(KINDS) as Kind[]) {
    const { path, key, list, what } = KINDS[kind];
    const ID = pathParams({ id: 'Identity id.' });

    app.post(path, {
      schema: routeSchema({
        tag: TAGS.identities, summary: `Create a ${what}`, body: CREATE_BODY[kind],
        ok: { 201: answer('Identity', 'The new identity (without its secret).') }, headers: { location: 'URL of the new identity.' }, errors: [400],
      }),
    }, async (req, reply) => {
      const i = await store.identities.create(identityDraft(ctx, bodyObject(req), kind));
      const base = baseUrl(req);
      return reply.code(201).header('location', `${base}${path}/${i.id}`).send(identityWire(base, i));
    });

    app.get(path, {
      schema: routeSchema({
        tag: TAGS.identities, summary: `List ${what === 'SSH key identity' ? 'SSH key identities' : 'user name and password identities'}`,
        description: 'Filter properties: id, name, username, type, ostype.', querystring: collectionQuery(), ok: { 200: list }, errors: [400],
      }),
    }, async (req) => {
      const cq = readCollectionQuery(req);
      const page = await store.identities.list(toListQuery(cq, IDENTITY_FIELDS, [{ property: 'id', direction: 'ASC' }]), kind);
      const base = baseUrl(req);
      return envelope(req, key, page.items.map((i) => identityWire(base, i)), page.total, cq.paging, {
        create: link(base, path, 'create'),
      });
    });

    const one = async (req: FastifyRequest) => {
      const id = idParam(req);
      const i = await store.identities.get(id);
      if (!i || i.kind !== kind) throw notFound('Identity', id);
      return i;
    };

    app.get(`${path}/:id`, {
      schema: routeSchema({ tag: TAGS.identities, summary: `Get a ${what}`, params: ID, ok: { 200: 'Identity' }, errors: [400, 404] }),
    }, async (req) => identityWire(baseUrl(req), await one(req)));

    app.delete(`${path}/:id`, {
      schema: routeSchema({
        tag: TAGS.identities, summary: `Delete a ${what}`, description: 'Refused with 409 while application servers use it.',
        params: ID, ok: { 204: noContent('Deleted.') }, errors: [400, 404, 409],
      }),
    }, async (req, reply) => {
      const i = await one(req);
      const users = await store.identities.usedBy(i.id);
      if (users) throw conflict(`Identity ${i.id} is used by ${users} application server(s); unregister them first.`);
      await store.identities.delete(i.id);
      return reply.code(204).send();
    });
  }
}
