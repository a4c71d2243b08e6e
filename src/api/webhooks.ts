/**
 * Webhooks and the delivery log on the wire (a Census addition, docs/notifications.md):
 * /api/census/webhook (list, register, get, change, remove, `?action=test`) and
 * /api/census/delivery (list, get with attempts, `?action=resend`). A signing secret is in the
 * answer that made or rotated it, and in no other.
 */
import type { FastifyInstance } from 'fastify';
import { invalid } from '../core/errors.ts';
import type { Delivery, DeliveryAttempt } from '../core/notifications.ts';
import { INT32_MAX, type FieldMap } from '../core/query.ts';
import type { WebhookChanges, WebhookInput, WebhookView } from '../services/index.ts';
import { envelope, readCollectionQuery, toListQuery } from './collection.ts';
import { actorOf, bodyObject, idParam, queryParam, type ApiContext } from './context.ts';
import type { Body } from './input.ts';
import { baseUrl, link } from './links.ts';
import {
  answer, collectionQuery, noContent, oneOfAnswers, pathParams, query, requestBody, routeSchema, TAGS, WebhookBody, WebhookUpdateBody,
  type DeliveryDetailWire, type DeliveryWire, type WebhookWire,
} from './schemas/index.ts';

const WEBHOOKS = '/api/census/webhook';
const DELIVERIES = '/api/census/delivery';

/** The columns of the delivery log's filter and sort (store/notifications.ts listDeliveries). */
const DELIVERY_FIELDS: FieldMap = {
  id: { column: 'id', type: 'number', max: INT32_MAX }, channel: { column: 'channel', type: 'string' },
  targetId: { column: 'targetId', type: 'number', max: INT32_MAX }, status: { column: 'status', type: 'string' },
  eventType: { column: 'eventType', type: 'string' }, eventId: { column: 'eventId', type: 'string' },
  createdAt: { column: 'createdAt', type: 'number' }, nextAttemptAt: { column: 'nextAttemptAt', type: 'number' },
  deliveredAt: { column: 'deliveredAt', type: 'number' },
};

export function webhookWire(base: string, w: WebhookView): WebhookWire {
  const self = `${WEBHOOKS}/${w.id}`;
  return {
    links: {
      self: link(base, self, 'self'), up: link(base, WEBHOOKS, 'up'), edit: link(base, self, 'update'), delete: link(base, self, 'delete'),
      test: link(base, `${self}?action=test`, 'action', 'Send a test event'),
      deliveries: link(base, `${DELIVERIES}?filter=${encodeURIComponent(JSON.stringify([{ property: 'targetId', value: w.id }, { property: 'channel', value: 'webhook' }]))}`, 'related'),
    },
    id: String(w.id), name: w.name, url: w.url, events: [...w.events], format: w.format, enabled: w.enabled,
    retryForMs: w.retryForMs, secretSet: true, createdAt: w.createdAt,
  };
}

export function deliveryWire(base: string, d: Delivery): DeliveryWire {
  const self = `${DELIVERIES}/${d.id}`;
  const done = d.status === 'DELIVERED' || d.status === 'FAILED';
  return {
    links: {
      self: link(base, self, 'self'), up: link(base, DELIVERIES, 'up'),
      ...(done ? { resend: link(base, `${self}?action=resend`, 'action', 'Send again') } : {}),
    },
    id: String(d.id), eventId: d.eventId, eventType: d.eventType, channel: d.channel,
    targetId: d.targetId === null ? null : String(d.targetId), target: d.target, status: d.status, attemptCount: d.attempts,
    nextAttemptAt: d.nextAttemptAt, giveUpAt: d.giveUpAt, createdAt: d.createdAt, deliveredAt: d.deliveredAt, lastError: d.lastError,
  };
}

const attemptWire = (a: DeliveryAttempt): DeliveryDetailWire['attempts'][number] => ({
  id: String(a.id), at: a.at, durationMs: a.durationMs, ok: a.ok, statusCode: a.statusCode, response: a.response, error: a.error,
});

/** The body's fields as the service takes them (the schema checked their types). */
function input(body: Body): WebhookChanges {
  const has = (k: string) => body[k] !== undefined && body[k] !== null && body[k] !== '';
  return {
    ...(has('url') ? { url: body.url as string } : {}),
    ...(body.events !== undefined ? { events: body.events as string[] } : {}),
    ...(has('name') ? { name: body.name as string } : {}),
    ...(has('format') ? { format: body.format as string } : {}),
    ...(has('secret') ? { secret: body.secret as string } : {}),
    ...(typeof body.enabled === 'boolean' ? { enabled: body.enabled } : {}),
    ...(typeof body.retryForMs === 'number' ? { retryForMs: body.retryForMs } : {}),
    ...(body.rotateSecret === true ? { rotateSecret: true } : {}),
  };
}

export function webhookRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { webhooks } = ctx.services;
  const ID = pathParams({ id: 'Webhook id.' });
  const DELIVERY_ID = pathParams({ id: 'Delivery id.' });

  app.get(WEBHOOKS, {
    schema: routeSchema({
      tag: TAGS.webhooks, summary: 'List webhook endpoints', permission: 'webhook.view',
      description: 'Never their signing secrets (`secretSet: true`).', querystring: collectionQuery({}, ['filter', 'sort']), ok: { 200: 'WebhookList' }, errors: [400, 403],
    }),
  }, async (req) => {
    const cq = readCollectionQuery(req);
    const all = await webhooks.list(await actorOf(ctx, req));
    const { pageStartIndex, pageSize } = cq.paging;
    const base = baseUrl(req);
    return envelope(req, 'webhooks', all.slice(pageStartIndex, pageStartIndex + pageSize).map((w) => webhookWire(base, w)), all.length, cq.paging, {
      create: link(base, WEBHOOKS, 'create'),
    });
  });

  app.post(WEBHOOKS, {
    schema: routeSchema({
      tag: TAGS.webhooks, summary: 'Register a webhook endpoint', permission: 'webhook.edit',
      description: 'The answer holds the signing secret (`secret`) this once; Census keeps it sealed and never shows it again (rotate it with PUT `"rotateSecret": true`).',
      body: requestBody(WebhookBody, { required: true }), ok: { 201: answer('WebhookCreated', 'The new endpoint, with its signing secret.') },
      headers: { location: 'URL of the new endpoint.' }, errors: [400, 403],
    }),
  }, async (req, reply) => {
    const c = input(bodyObject(req));
    const { webhook, secret } = await webhooks.create(await actorOf(ctx, req), { ...c, url: c.url ?? '', events: c.events ?? [] } as WebhookInput);
    const base = baseUrl(req);
    return reply.code(201).header('location', `${base}${WEBHOOKS}/${webhook.id}`).send({ ...webhookWire(base, webhook), secret });
  });

  app.get(`${WEBHOOKS}/:id`, {
    schema: routeSchema({ tag: TAGS.webhooks, summary: 'Get a webhook endpoint', permission: 'webhook.view', params: ID, ok: { 200: 'Webhook' }, errors: [400, 403, 404] }),
  }, async (req) => webhookWire(baseUrl(req), await webhooks.get(await actorOf(ctx, req), idParam(req))));

  app.put(`${WEBHOOKS}/:id`, {
    schema: routeSchema({
      tag: TAGS.webhooks, summary: 'Change a webhook endpoint', permission: 'webhook.edit', params: ID,
      description: 'What is left out stays. `"rotateSecret": true` (or a new `secret`) answers with the new secret this once (`WebhookCreated`).',
      body: requestBody(WebhookUpdateBody, { required: true }),
      ok: { 200: oneOfAnswers(['WebhookCreated', 'Webhook'], 'The endpoint (with `secret` only when it changed).') },
      errors: [400, 403, 404],
    }),
  }, async (req) => {
    const { webhook, secret } = await webhooks.update(await actorOf(ctx, req), idParam(req), input(bodyObject(req)));
    const wire = webhookWire(baseUrl(req), webhook);
    return secret === undefined ? wire : { ...wire, secret };
  });

  app.delete(`${WEBHOOKS}/:id`, {
    schema: routeSchema({
      tag: TAGS.webhooks, summary: 'Remove a webhook endpoint', permission: 'webhook.edit', params: ID,
      description: 'Its deliveries stay in the log; those still waiting fail as "the webhook was removed".',
      ok: { 204: noContent('Removed.') }, errors: [400, 403, 404],
    }),
  }, async (req, reply) => {
    await webhooks.delete(await actorOf(ctx, req), idParam(req));
    return reply.code(204).send();
  });

  app.post(`${WEBHOOKS}/:id`, {
    schema: routeSchema({
      tag: TAGS.webhooks, summary: 'Send a test event to a webhook endpoint', permission: { action: { test: 'webhook.edit' } }, params: ID,
      description: '`?action=test`: POSTs a signed `webhook.test` event now, in the endpoint\'s format, and answers how it went (nothing is stored or retried).',
      querystring: query({ action: '`test`.' }), ok: { 200: 'WebhookTestResult' }, errors: [400, 403, 404],
    }),
  }, async (req) => {
    const action = queryParam(req, 'action');
    if (action !== 'test') throw invalid(`Unknown webhook action ${JSON.stringify(action ?? null)}; use ?action=test.`);
    return webhooks.test(await actorOf(ctx, req), idParam(req));
  });

  app.get(DELIVERIES, {
    schema: routeSchema({
      tag: TAGS.webhooks, summary: 'List notification deliveries', permission: 'webhook.view',
      description: 'Newest first. Filter properties: id, channel (`webhook`, `email`), targetId, status (PENDING, QUEUED, DELIVERED, FAILED), eventType, eventId, createdAt, nextAttemptAt, deliveredAt.',
      querystring: collectionQuery(), ok: { 200: 'DeliveryList' }, errors: [400, 403],
    }),
  }, async (req) => {
    const cq = readCollectionQuery(req);
    const page = await webhooks.deliveries(await actorOf(ctx, req), toListQuery(cq, DELIVERY_FIELDS, [{ property: 'id', direction: 'DESC' }]));
    const base = baseUrl(req);
    return envelope(req, 'deliveries', page.items.map((d) => deliveryWire(base, d)), page.total, cq.paging);
  });

  app.get(`${DELIVERIES}/:id`, {
    schema: routeSchema({
      tag: TAGS.webhooks, summary: 'Get a delivery with its attempts', permission: 'webhook.view', params: DELIVERY_ID, ok: { 200: 'DeliveryDetail' }, errors: [400, 403, 404],
    }),
  }, async (req) => {
    const { delivery, attempts } = await webhooks.delivery(await actorOf(ctx, req), idParam(req));
    return { ...deliveryWire(baseUrl(req), delivery), attempts: attempts.map(attemptWire) } satisfies DeliveryDetailWire;
  });

  app.post(`${DELIVERIES}/:id`, {
    schema: routeSchema({
      tag: TAGS.webhooks, summary: 'Send a delivery again', permission: { action: { resend: 'webhook.edit' } }, params: DELIVERY_ID,
      description: '`?action=resend`: a DELIVERED or FAILED delivery is due again now (same event id), retried for its receiver\'s time again. 409 while it is PENDING or QUEUED.',
      querystring: query({ action: '`resend`.' }), ok: { 200: 'Delivery' }, errors: [400, 403, 404, 409],
    }),
  }, async (req) => {
    const action = queryParam(req, 'action');
    if (action !== 'resend') throw invalid(`Unknown delivery action ${JSON.stringify(action ?? null)}; use ?action=resend.`);
    return deliveryWire(baseUrl(req), await webhooks.resend(await actorOf(ctx, req), idParam(req)));
  });
}
