/**
 * `census alert list|ack`: the alerts Census raised (GET /api/endeavour/alert/message, docs/alerts.md)
 * and acknowledging them (POST …/{id}?action=acknowledge, one call per alert as SPP has it).
 */
import { ALERT_KINDS } from '../../../core/alerts.ts';
import { choice, intOption, str, type Command, type Ctx } from '../command.ts';
import { ApiError, CliError, UsageError } from '../errors.ts';
import { humanTime, table } from '../format.ts';
import type { Json } from '../http.ts';
import { timeOption } from './audit.ts';

const ALERTS = '/api/endeavour/alert/message';
const STATUSES = { active: ['ACTIVE'], acknowledged: ['ACKNOWLEDGED'], cleared: ['CLEARED'], open: ['ACTIVE', 'ACKNOWLEDGED'], all: [] } as const;

/** The SPP filter the options ask for. */
function criteria(ctx: Ctx): object[] {
  const out: object[] = [];
  const status = choice(ctx, 'status', Object.keys(STATUSES) as (keyof typeof STATUSES)[]) ?? 'active';
  const statuses = STATUSES[status];
  if (statuses.length) out.push({ property: 'status', value: [...statuses], op: 'IN' });
  const kind = str(ctx, 'kind');
  if (kind !== undefined) {
    if (!(ALERT_KINDS as readonly string[]).includes(kind)) throw new UsageError(`--kind must be one of ${ALERT_KINDS.join(', ')}`, ctx.usage);
    out.push({ property: 'kind', value: kind, op: '=' });
  }
  const since = timeOption(ctx, 'since', ctx.io.now());
  if (since !== undefined) out.push({ property: 'last', value: since, op: '>=' });
  return out;
}

export const alertList: Command = {
  words: ['alert', 'list'],
  synopsis: '[--status S] [--kind K] [--since T] [--limit N]',
  summary: 'list the alerts Census raised, newest first (needs alert.view)',
  help: `  --status S   active (the default: what needs someone), acknowledged, cleared, open
               (active or acknowledged) or all
  --kind K     only this kind: ${ALERT_KINDS.join(', ')}
  --since T    last raised since: 30m, 2h, 7d or 1w ago, or an ISO 8601 date or time
  --limit N    the latest N alerts (default 50)
  --json       one JSON array of the alerts as the API gives them`,
  options: { status: { type: 'string' }, kind: { type: 'string' }, since: { type: 'string' }, limit: { type: 'string' } },
  async run(ctx) {
    const filter = criteria(ctx);
    const limit = intOption(ctx, 'limit', 1, 100_000) ?? 50;
    const alerts = await ctx.api().list(ALERTS, 'alerts', {
      ...(filter.length ? { filter: JSON.stringify(filter) } : {}), sort: JSON.stringify([{ property: 'last', direction: 'DESC' }]),
    }, limit);
    if (ctx.json) return ctx.printJson(alerts);
    if (!alerts.length) return ctx.print('No alerts.');
    ctx.print(table(
      [{ title: 'id', align: 'right' }, 'last', 'type', 'kind', 'status', { title: 'count', align: 'right' }, 'message'],
      alerts.map((a: Json) => [a.id, humanTime(a.last), a.type, a.kind, a.status, a.count, a.message]),
    ));
  },
};

export const alertAck: Command = {
  words: ['alert', 'ack'],
  synopsis: 'ID [ID…]',
  summary: 'acknowledge alerts: seen, still open until their condition clears (needs alert.acknowledge)',
  help: `  ID …         the alerts' ids (census alert list shows them); each is acknowledged on its own,
               and the command fails (exit 1) if any one could not be
  --json       one JSON array of the acknowledged alerts as the API gives them`,
  args: ['ID'],
  variadic: true,
  async run(ctx) {
    const ids = ctx.args.map((v) => {
      if (!/^\d{1,9}$/.test(v)) throw new UsageError(`an alert ID must be a number, not ${JSON.stringify(v)}`, ctx.usage);
      return v;
    });
    const api = ctx.api();
    const done: Json[] = [];
    const failed: string[] = [];
    for (const id of new Set(ids)) {
      try {
        done.push(await api.post(`${ALERTS}/${id}`, undefined, { action: 'acknowledge' }));
      } catch (err) {
        if (!(err instanceof ApiError)) throw err; // the connection broke: no use going on
        failed.push(`alert ${id}: ${err.message}`);
      }
    }
    if (ctx.json) ctx.printJson(done);
    else for (const a of done) ctx.print(`Alert ${a.id} acknowledged${a.acknowledgedBy ? ` (by ${a.acknowledgedBy})` : ''}: ${a.message}`);
    if (failed.length) throw new CliError(failed.join('\ncensus: '));
  },
};
