/**
 * API keys on the wire (a Census addition; docs/compat.md "API keys"): /api/security/apikey, and
 * how a request presents a key. Any logged-in user manages their own keys (the routes declare
 * `session`); the service asks for `apikey.manage` where someone else's key is concerned.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { invalid } from '../core/errors.ts';
import { API_KEY_PREFIX, type ApiKey } from '../services/index.ts';
import { actorOf, bodyObject, idParam, queryParam, type ApiContext } from './context.ts';
import { baseUrl, link } from './links.ts';
import { answer, ApiKeyBody, noContent, pathParams, query, requestBody, routeSchema, TAGS, type ApiKeyWire } from './schemas/index.ts';

/** The key of an `Authorization: Bearer cns_…` header; undefined for anything else (the metrics token among it). */
export function bearerApiKey(req: FastifyRequest): string | undefined {
  const m = /^\s*Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
  return m && m[1]!.startsWith(API_KEY_PREFIX) ? m[1] : undefined;
}

export function apiKeyWire(base: string, k: ApiKey, now: number): ApiKeyWire {
  const self = `/api/security/apikey/${k.id}`;
  const status = k.revokedAt !== null ? 'REVOKED' : k.expiresAt !== null && k.expiresAt <= now ? 'EXPIRED' : 'ACTIVE';
  return {
    links: {
      self: link(base, self, 'self'), up: link(base, '/api/security/apikey', 'up'),
      ...(k.revokedAt === null ? { delete: link(base, self, 'delete', 'Revoke') } : {}),
    },
    id: String(k.id), name: k.name, prefix: `${API_KEY_PREFIX}${k.prefix}`, userId: String(k.userId), userName: k.userName,
    createdAt: k.createdAt, createdBy: k.createdBy === null ? null : String(k.createdBy), expiresAt: k.expiresAt, readOnly: k.readOnly,
    allowedAddresses: [...k.allowedAddresses], lastUsedAt: k.lastUsedAt, lastUsedFrom: k.lastUsedFrom, revokedAt: k.revokedAt, status,
  };
}

/** `expiresAt` as the body gave it: epoch milliseconds, or an ISO 8601 date. */
function expiry(v: unknown): number | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v === 'number') return v;
  const t = /^\d+$/.test(String(v)) ? Number(v) : Date.parse(String(v));
  if (!Number.isFinite(t)) throw invalid('"expiresAt" must be epoch milliseconds or an ISO 8601 date.', 'apikey.expiry');
  return t;
}

export function apiKeyRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { apiKeys } = ctx.services;
  const KEY_ID = pathParams({ id: 'API key id.' });

  app.get('/api/security/apikey', {
    schema: routeSchema({
      tag: TAGS.security, summary: 'List API keys', permission: 'session',
      description: "The caller's keys; everyone's with `apikey.manage` (`?userId=` for one user's). Never the keys themselves.",
      querystring: query({ userId: 'Only this user\'s keys (with `apikey.manage`).' }), ok: { 200: 'ApiKeyList' }, errors: [400],
    }),
  }, async (req) => {
    const raw = queryParam(req, 'userId');
    if (raw !== undefined && !/^\d{1,9}$/.test(raw)) throw invalid(`"userId" must be a user id; got ${JSON.stringify(raw.slice(0, 40))}.`);
    const keys = await apiKeys.list(await actorOf(ctx, req), raw === undefined ? undefined : Number(raw));
    const base = baseUrl(req);
    const now = ctx.clock.now();
    return {
      links: { self: link(base, '/api/security/apikey', 'self'), up: link(base, '/api/security', 'up'), create: link(base, '/api/security/apikey', 'create') },
      total: keys.length, page: 1, apiKeys: keys.map((k) => apiKeyWire(base, k, now)),
    };
  });

  app.post('/api/security/apikey', {
    schema: routeSchema({
      tag: TAGS.security, summary: 'Create an API key', permission: 'session',
      description: 'A key for the caller, or for another user with `apikey.manage`. The answer holds the key (`key`) this once; Census keeps only its hash.',
      body: requestBody(ApiKeyBody, { required: true }), ok: { 201: answer('ApiKeyCreated', 'The new key, with the key itself.') }, errors: [400, 403, 404],
    }),
  }, async (req, reply) => {
    const body = bodyObject(req);
    const expiresAt = expiry(body.expiresAt);
    const { key, apiKey } = await apiKeys.create(await actorOf(ctx, req), {
      name: (body.name as string | null | undefined) ?? '',
      ...(typeof body.userId === 'number' ? { userId: body.userId } : {}),
      ...(expiresAt !== undefined ? { expiresAt } : {}),
      ...(typeof body.readOnly === 'boolean' ? { readOnly: body.readOnly } : {}),
      ...(Array.isArray(body.allowedAddresses) ? { allowedAddresses: body.allowedAddresses as string[] } : {}),
    });
    const base = baseUrl(req);
    return reply.code(201).header('location', `${base}/api/security/apikey/${apiKey.id}`).send({ ...apiKeyWire(base, apiKey, ctx.clock.now()), key });
  });

  app.get('/api/security/apikey/:id', {
    schema: routeSchema({
      tag: TAGS.security, summary: 'Get an API key', permission: 'session', params: KEY_ID,
      description: "The caller's own, or anyone's with `apikey.manage` (others' are 404). Never the key itself.",
      ok: { 200: 'ApiKey' }, errors: [400, 404],
    }),
  }, async (req) => apiKeyWire(baseUrl(req), await apiKeys.get(await actorOf(ctx, req), idParam(req)), ctx.clock.now()));

  app.delete('/api/security/apikey/:id', {
    schema: routeSchema({
      tag: TAGS.security, summary: 'Revoke an API key', permission: 'session', params: KEY_ID,
      description: "Revokes the caller's own key, or anyone's with `apikey.manage`, at once: its next use is refused. It stays listed, with its last use.",
      ok: { 204: noContent('Revoked.') }, errors: [400, 403, 404],
    }),
  }, async (req, reply) => {
    await apiKeys.revoke(await actorOf(ctx, req), idParam(req));
    return reply.code(204).send();
  });
}
