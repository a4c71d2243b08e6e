/**
 * Alerts on the wire (docs/alerts.md): SPP's `GET /api/endeavour/alert/message` (paging, filter
 * and sort as the other collections; sppclient's get_alerts.py filters and sorts on `last`), one
 * alert, `?action=acknowledge`, and the alert settings at `/api/census/alert/settings`.
 */
import type { FastifyInstance } from 'fastify';
import { invalid } from '../core/errors.ts';
import { coerce, INT32_MAX, type Condition, type FieldMap } from '../core/query.ts';
import type { Alert, AlertSettingsChanges } from '../services/index.ts';
import { envelope, readCollectionQuery, toListQuery } from './collection.ts';
import { actorOf, bodyObject, idParam, queryParam, type ApiContext } from './context.ts';
import { baseUrl, link, type Links } from './links.ts';
import { AlertSettingsBody, collectionQuery, pathParams, query, requestBody, routeSchema, TAGS, type AlertWire } from './schemas/index.ts';

export const ALERTS_ROUTE = '/api/endeavour/alert/message';
export const ALERT_SETTINGS_ROUTE = '/api/census/alert/settings';

const FIELDS: FieldMap = {
  id: { column: 'id', type: 'number', max: INT32_MAX },
  last: { column: 'lastAt', type: 'number' },
  first: { column: 'firstAt', type: 'number' },
  status: { column: 'status', type: 'string' },
  kind: { column: 'kind', type: 'string' },
  type: { column: 'severity', type: 'string' },
  key: { column: 'alertKey', type: 'string' },
  count: { column: 'count', type: 'number', max: INT32_MAX },
  message: { column: 'message', type: 'string' },
  jobId: { column: 'jobId', type: 'number', max: INT32_MAX },
  jobsessionId: { column: 'sessionId', type: 'number' },
  acknowledgedBy: { column: 'acknowledgedBy', type: 'string' },
  acknowledgedAt: { column: 'acknowledgedAt', type: 'number' },
  clearedAt: { column: 'clearedAt', type: 'number' },
};
const FILTER_NOTE = 'Filter and sort properties: last, first, status (ACTIVE, ACKNOWLEDGED, CLEARED), kind, type (ERROR, WARN, INFO), ' +
  'acknowledged (true/false; filter only), key, count, message, jobId, jobsessionId, acknowledgedBy, acknowledgedAt, clearedAt, id. ' +
  'Default order: last descending.';

/**
 * `acknowledged` is no column: it is whether the alert was acknowledged (acknowledgedAt is set).
 * `=`/`<>` with true or false; a value that is neither matches nothing.
 */
function acknowledgedConditions(criteria: { property: string; op: string; value: unknown }[]): Condition[] {
  return criteria.filter((c) => c.property === 'acknowledged').map((c): Condition => {
    const v = coerce(c.value, 'boolean');
    if (typeof v !== 'boolean' || (c.op !== '=' && c.op !== '<>')) return { kind: 'none' };
    return { column: 'acknowledgedAt', kind: (c.op === '=') === v ? 'notNull' : 'null' };
  });
}

export function alertToWire(base: string, a: Alert): AlertWire {
  const self = `${ALERTS_ROUTE}/${a.id}`;
  const links: Links = { self: link(base, self, 'self'), up: link(base, ALERTS_ROUTE, 'up') };
  if (a.status === 'ACTIVE') links.acknowledge = link(base, `${self}?action=acknowledge`, 'action', 'Acknowledge');
  if (a.sessionId !== null) links.jobsession = link(base, `/api/endeavour/jobsession/${a.sessionId}`, 'related');
  return {
    links,
    id: String(a.id),
    message: a.message,
    type: a.severity,
    acknowledged: a.acknowledgedAt !== null,
    first: a.firstAt,
    last: a.lastAt,
    count: a.count,
    status: a.status,
    kind: a.kind,
    key: a.key,
    objects: a.objects.map((o) => ({ type: o.type, id: o.id, name: o.name })),
    jobId: a.jobId === null ? null : String(a.jobId),
    jobsessionId: a.sessionId,
    acknowledgedBy: a.acknowledgedBy,
    acknowledgedAt: a.acknowledgedAt,
    clearedAt: a.clearedAt,
  };
}

/** A settings body's changes: null (or "") is "not given", as elsewhere in the API. */
function settingsChanges(body: Record<string, unknown>): AlertSettingsChanges {
  const out: Record<string, unknown> = {};
  for (const k of ['stalledAfterMs', 'failingRuns', 'missedGraceMs']) if (body[k] !== undefined && body[k] !== null) out[k] = body[k];
  const w = body.watch;
  if (w !== undefined && w !== null) {
    if (typeof w !== 'object' || Array.isArray(w)) throw invalid('"watch" must be an object of true/false switches.', 'alert.settings');
    const watch: Record<string, unknown> = {};
    for (const k of ['databaseRemoved', 'versionChanged', 'findings']) {
      const v = (w as Record<string, unknown>)[k];
      if (v !== undefined && v !== null) watch[k] = v;
    }
    out.watch = watch;
  }
  return out as AlertSettingsChanges;
}

export function alertRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { alerts } = ctx.services;
  const ALERT_ID = pathParams({ id: 'Alert id.' });

  app.get(ALERTS_ROUTE, {
    schema: routeSchema({
      tag: TAGS.alerts, permission: 'alert.view', summary: 'List alerts',
      description: `SPP's alert messages: what Census raised itself, with status, times, count and the objects concerned. ${FILTER_NOTE}`,
      querystring: collectionQuery(), ok: { 200: 'AlertList' }, errors: [400, 403],
    }),
  }, async (req) => {
    const cq = readCollectionQuery(req);
    const q = toListQuery(cq, FIELDS, [{ property: 'last', direction: 'DESC' }]);
    q.where.push(...acknowledgedConditions(cq.criteria));
    const page = await alerts.list(await actorOf(ctx, req), q);
    const base = baseUrl(req);
    return envelope(req, 'alerts', page.items.map((a) => alertToWire(base, a)), page.total, cq.paging);
  });

  app.get(`${ALERTS_ROUTE}/:id`, {
    schema: routeSchema({
      tag: TAGS.alerts, permission: 'alert.view', summary: 'Get an alert', params: ALERT_ID, ok: { 200: 'Alert' }, errors: [400, 403, 404],
    }),
  }, async (req) => alertToWire(baseUrl(req), await alerts.get(await actorOf(ctx, req), idParam(req))));

  app.post(`${ALERTS_ROUTE}/:id`, {
    schema: routeSchema({
      tag: TAGS.alerts, permission: { action: { acknowledge: 'alert.acknowledge' } }, summary: 'Acknowledge an alert', params: ALERT_ID,
      description: '`?action=acknowledge`: an ACTIVE alert becomes ACKNOWLEDGED (it still clears itself when its condition goes away). ' +
        'Acknowledging an acknowledged alert changes nothing; a cleared one is a 409.',
      querystring: query({ action: '`acknowledge`.' }), ok: { 200: 'Alert' }, errors: [400, 403, 404, 409],
    }),
  }, async (req) => {
    const action = queryParam(req, 'action');
    if (action !== 'acknowledge') throw invalid(`Unknown alert action ${JSON.stringify(action ?? null)}; use ?action=acknowledge.`);
    return alertToWire(baseUrl(req), await alerts.acknowledge(await actorOf(ctx, req), idParam(req)));
  });

  app.get(ALERT_SETTINGS_ROUTE, {
    schema: routeSchema({
      tag: TAGS.alerts, permission: 'alert.view', summary: 'Get the alert settings',
      description: 'The stall time, the failing-run count, the missed-schedule grace and the watched inventory changes (docs/alerts.md).',
      ok: { 200: 'AlertSettings' }, errors: [403],
    }),
  }, async (req) => alerts.settings(await actorOf(ctx, req)));

  app.put(ALERT_SETTINGS_ROUTE, {
    schema: routeSchema({
      tag: TAGS.alerts, permission: 'alert.edit', summary: 'Change the alert settings',
      description: 'What is given changes; the rest stays. Answers the settings as they are now.',
      body: requestBody(AlertSettingsBody, { required: true }), ok: { 200: 'AlertSettings' }, errors: [400, 403],
    }),
  }, async (req) => alerts.setSettings(await actorOf(ctx, req), settingsChanges(bodyObject(req))));
}
