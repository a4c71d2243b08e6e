/**
 * Identities (spec §7.5): user/password credentials at /api/identity/user and SSH keys at
 * /api/identity/key. Secrets go in sealed and never come back out, not even masked.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { INT32_MAX, type FieldMap } from '../core/query.ts';
import type { Identity } from '../core/types.ts';
import { envelope, readCollectionQuery, toListQuery } from './collection.ts';
import type { IdentityInput } from '../services/index.ts';
import { actorOf, bodyObject, idParam, type ApiContext } from './context.ts';
import { str, type Body } from './input.ts';
import { baseUrl, link } from './links.ts';
import {
  answer, collectionQuery, KeyIdentityBody, noContent, PasswordIdentityBody, pathParams, requestBody, routeSchema, TAGS, type ComponentId, type IdentityWire,
} from './schemas/index.ts';

const IDENTITY_FIELDS: FieldMap = {
  id: { column: 'id', type: 'number', max: INT32_MAX }, name: { column: 'name', type: 'string' }, username: { column: 'username', type: 'string' },
  type: { column: 'type', type: 'string' }, ostype: { column: 'ostype', type: 'string' },
};

const KINDS = {
  password: { path: '/api/identity/user', key: 'users', resourceType: 'identityuser', list: 'UserIdentityList', what: 'user name and password identity' },
  key: { path: '/api/identity/key', key: 'keys', resourceType: 'identitykey', list: 'KeyIdentityList', what: 'SSH key identity' },
} as const satisfies Record<string, { path: string; key: string; resourceType: string; list: ComponentId; what: string }>;

const CREATE_BODY = {
  password: requestBody(PasswordIdentityBody, { required: true }),
  key: requestBody(KeyIdentityBody, { required: true }),
};
type Kind = keyof typeof KINDS;

export function identityWire(base: string, i: Identity): IdentityWire {
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

/** A new identity's wire fields, as the identity service takes them (it checks and seals them). */
export function identityInput(body: Body): IdentityInput {
  const secret = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const name = str(body, 'name');
  const passphrase = str(body, 'passphrase', { max: 1024 });
  const type = str(body, 'type');
  const ostype = str(body, 'ostype');
  const password = secret(body.password);
  const privateKey = secret(body.privatekey ?? body.privateKey);
  return {
    username: str(body, 'username', { required: true })!,
    ...(name !== undefined ? { name } : {}),
    ...(password !== undefined ? { password } : {}),
    ...(privateKey !== undefined ? { privateKey } : {}),
    ...(passphrase !== undefined ? { passphrase } : {}),
    ...(type !== undefined ? { type } : {}),
    ...(ostype !== undefined ? { ostype } : {}),
    comment: str(body, 'comment', { max: 2000 }) ?? null,
  };
}



export function identityRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { identities } = ctx.services;
  for (const kind of Object.keys(KINDS) as Kind[]) {
    const { path, key, list, what } = KINDS[kind];
    const ID = pathParams({ id: 'Identity id.' });

    app.post(path, {
      schema: routeSchema({
        tag: TAGS.identities, permission: 'identity.create', summary: `Create a ${what}`, body: CREATE_BODY[kind],
        ok: { 201: answer('Identity', 'The new identity (without its secret).') }, headers: { location: 'URL of the new identity.' }, errors: [400],
      }),
    }, async (req, reply) => {
      const i = await identities.create(await actorOf(ctx, req), identityInput(bodyObject(req)), kind);
      const base = baseUrl(req);
      return reply.code(201).header('location', `${base}${path}/${i.id}`).send(identityWire(base, i));
    });

    app.get(path, {
      schema: routeSchema({
        tag: TAGS.identities, permission: 'identity.view', summary: `List ${what === 'SSH key identity' ? 'SSH key identities' : 'user name and password identities'}`,
        description: 'Filter properties: id, name, username, type, ostype.', querystring: collectionQuery(), ok: { 200: list }, errors: [400],
      }),
    }, async (req) => {
      const cq = readCollectionQuery(req);
      const page = await identities.list(await actorOf(ctx, req), toListQuery(cq, IDENTITY_FIELDS, [{ property: 'id', direction: 'ASC' }]), kind);
      const base = baseUrl(req);
      return envelope(req, key, page.items.map((i) => identityWire(base, i)), page.total, cq.paging, {
        create: link(base, path, 'create'),
      });
    });

    const one = async (req: FastifyRequest) => identities.get(await actorOf(ctx, req), idParam(req), kind);

    app.get(`${path}/:id`, {
      schema: routeSchema({ tag: TAGS.identities, permission: 'identity.view', summary: `Get a ${what}`, params: ID, ok: { 200: 'Identity' }, errors: [400, 404] }),
    }, async (req) => identityWire(baseUrl(req), await one(req)));

    app.delete(`${path}/:id`, {
      schema: routeSchema({
        tag: TAGS.identities, permission: 'identity.delete', summary: `Delete a ${what}`, description: 'Refused with 409 while application servers use it.',
        params: ID, ok: { 204: noContent('Deleted.') }, errors: [400, 404, 409],
      }),
    }, async (req, reply) => {
      await identities.delete(await actorOf(ctx, req), idParam(req), kind);
      return reply.code(204).send();
    });
  }
}
