/**
 * The audit log on the wire (issue 11, spec §11.2): `GET /api/endeavour/log/audit` (filter, sort
 * and paging like the job log) and its CSV download, which sppclient's log collector saves. Both
 * only read: the log is written by the services (src/services/audit.ts) and, for requests refused
 * before any use case ran, by the hook below.
 */
import type { FastifyError, FastifyInstance, FastifyRequest } from 'fastify';
import { INT32_MAX, MAX_PAGE_SIZE, type FieldMap } from '../core/query.ts';
import { alreadyAudited, type AuditEntry } from '../services/index.ts';
import { envelope, readCollectionQuery, toListQuery } from './collection.ts';
import { actorOf, queryParam, type ApiContext } from './context.ts';
import { wireError } from './errors.ts';
import { collectionQuery, routeSchema, TAGS, type AuditEntryWire } from './schemas/index.ts';

export const AUDIT_ROUTE = '/api/endeavour/log/audit';
export const AUDIT_CSV_ROUTE = '/api/endeavour/log/audit/download/csv';

const FIELDS: FieldMap = {
  id: { column: 'id', type: 'number' },
  accessTime: { column: 'at', type: 'number' },
  logTime: { column: 'at', type: 'number' },
  user: { column: 'userName', type: 'string' },
  username: { column: 'userName', type: 'string' },
  userId: { column: 'userId', type: 'number', max: INT32_MAX },
  userIp: { column: 'address', type: 'string' },
  address: { column: 'address', type: 'string' },
  action: { column: 'action', type: 'string' },
  targetType: { column: 'targetType', type: 'string' },
  targetId: { column: 'targetId', type: 'string' },
  target: { column: 'targetName', type: 'string' },
  outcome: { column: 'outcome', type: 'string' },
};
const FILTER_NOTE = 'Filter properties: id, accessTime (or logTime), user (or username), userId, userIp (or address), action, targetType, targetId, target, outcome. ' +
  'Default order: accessTime ascending.';

/** One line for people: what was done to what, and how it ended. */
export function describeEntry(e: AuditEntry): string {
  const what = e.targetName ?? e.targetId;
  const target = e.targetType ? ` ${e.targetType}${what !== null ? ` "${what}"` : ''}${e.targetId !== null && e.targetName !== null ? ` (id ${e.targetId})` : ''}` : '';
  const code = typeof e.detail?.code === 'string' ? ` (${e.detail.code})` : '';
  return `${e.userName} ${e.action}${target}: ${e.outcome}${code}`;
}

export function auditToWire(e: AuditEntry): AuditEntryWire {
  return {
    id: String(e.id),
    accessTime: e.at,
    logTime: e.at,
    user: e.userName,
    userId: e.userId === null ? null : String(e.userId),
    userIp: e.address,
    action: e.action,
    targetType: e.targetType,
    targetId: e.targetId,
    target: e.targetName,
    outcome: e.outcome,
    detail: e.detail,
    description: describeEntry(e),
  };
}

const CSV_COLUMNS = ['id', 'accessTime', 'time', 'user', 'userId', 'userIp', 'action', 'targetType', 'targetId', 'target', 'outcome', 'description', 'detail'] as const;

/**
 * One CSV cell (RFC 4180). A cell a spreadsheet would read as a formula (=, +, -, @, a tab or CR
 * first) gets a leading apostrophe: a failed login's user name is whatever the caller typed.
 */
export function csvCell(value: unknown): string {
  let text = value === null || value === undefined ? '' : typeof value === 'object' ? JSON.stringify(value) : String(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function auditCsv(entries: AuditEntry[]): string {
  const rows = entries.map((e) => {
    const w = auditToWire(e);
    const cells: Record<(typeof CSV_COLUMNS)[number], unknown> = { ...w, time: new Date(e.at).toISOString() };
    return CSV_COLUMNS.map((c) => csvCell(cells[c])).join(',');
  });
  return `${[CSV_COLUMNS.join(','), ...rows].join('\r\n')}\r\n`;
}

/**
 * sppclient's log collector sends its session as `?esessionid=` on the download (no header): the
 * auth hook in server.ts takes it from there on this route only.
 */
export function downloadSessionId(req: FastifyRequest): string | undefined {
  if (req.method !== 'GET' || req.routeOptions.url !== AUDIT_CSV_ROUTE) return undefined;
  return queryParam(req, 'esessionid')?.trim() || undefined;
}

const CHANGES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * Records the refusals of changes that never reached a use case: a route's permission check (403)
 * and a request that failed validation (400), by a caller with a session. A failure a use case
 * recorded already is not recorded again. Call before the routes are added.
 */
export function auditRefusals(app: FastifyInstance, ctx: ApiContext): void {
  app.addHook('onError', async (req, _reply, err: FastifyError) => {
    if (!CHANGES.has(req.method) || !req.principal || alreadyAudited(err)) return;
    const ours = wireError(err);
    const status = ours?.status ?? (err.validation ? 400 : undefined);
    if (status !== 400 && status !== 403) return;
    const route = `${req.method} ${req.routeOptions.url ?? req.url.split('?')[0]}`;
    try {
      await ctx.services.audit.recordFailure(await actorOf(ctx, req), {
        action: 'request', targetType: 'route', targetName: route,
        detail: { status, ...(ours ? { id: ours.body.id } : {}), ...(typeof queryParam(req, 'action') === 'string' ? { action: queryParam(req, 'action')!.slice(0, 64) } : {}) },
      }, err);
    } catch {
      // recordFailure never throws; actorOf cannot fail with a principal present. The answer goes out regardless.
    }
  });
}

export function auditRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { audit } = ctx.services;

  app.get(AUDIT_ROUTE, {
    schema: routeSchema({
      tag: TAGS.logs, permission: 'log.view', summary: 'List audit log entries',
      description: `Logins, logouts and every change, with who, when, from where and how it ended. ${FILTER_NOTE}`,
      querystring: collectionQuery(), ok: { 200: 'AuditList' }, errors: [400],
    }),
  }, async (req) => {
    const cq = readCollectionQuery(req);
    const page = await audit.list(await actorOf(ctx, req), toListQuery(cq, FIELDS, [{ property: 'accessTime', direction: 'ASC' }]));
    return envelope(req, 'logs', page.items.map(auditToWire), page.total, cq.paging);
  });

  app.get(AUDIT_CSV_ROUTE, {
    schema: routeSchema({
      tag: TAGS.logs, permission: 'log.view', summary: 'Download the audit log as CSV',
      description: `The entries the same filter and sort select, as \`text/csv\` with a header row (columns ${CSV_COLUMNS.join(', ')}), ` +
        `as an attachment. Without \`pageSize\` every matching entry, up to ${MAX_PAGE_SIZE}. The session may come as \`?esessionid=\` (sppclient's log collector). ${FILTER_NOTE}`,
      querystring: collectionQuery({ esessionid: 'The login session, for clients that send no X-Endeavour-Sessionid header.' }),
      ok: { 200: { description: 'The entries as CSV.', content: { 'text/csv': { schema: { type: 'string' } } } } },
      errors: [400],
    }),
  }, async (req, reply) => {
    const cq = readCollectionQuery(req);
    const paging = queryParam(req, 'pageSize') === undefined ? { ...cq.paging, pageSize: MAX_PAGE_SIZE } : cq.paging;
    const page = await audit.list(await actorOf(ctx, req), toListQuery({ ...cq, paging }, FIELDS, [{ property: 'accessTime', direction: 'ASC' }]));
    const stamp = new Date(ctx.clock.now()).toISOString().replace(/[-:]/g, '').replace(/\..*$/, '');
    return reply
      .type('text/csv; charset=utf-8')
      .header('content-disposition', `attachment; filename="census-audit-${stamp}.csv"`)
      .send(auditCsv(page.items));
  });
}
