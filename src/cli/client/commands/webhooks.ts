/**
 * `census webhook add|list|test|deliveries|resend` (docs/notifications.md): webhook endpoints
 * (/api/census/webhook) and the delivery log (/api/census/delivery). `add` prints the signing
 * secret once; nothing shows it again.
 */
import { WEBHOOK_EVENTS } from '../../../core/notifications.ts';
import { choice, idArg, intOption, str, type Command, type Ctx } from '../command.ts';
import { CliError, UsageError } from '../errors.ts';
import { humanTime, table } from '../format.ts';
import type { Json } from '../http.ts';

const WEBHOOKS = '/api/census/webhook';
const DELIVERIES = '/api/census/delivery';
const FORMATS = ['json', 'slack', 'teams'] as const;
const STATUSES = ['pending', 'queued', 'delivered', 'failed'] as const;
const UNITS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "90s", "30m", "24h", "7d" → milliseconds. */
function duration(ctx: Ctx, name: string): number | undefined {
  const v = str(ctx, name);
  if (v === undefined) return undefined;
  const m = /^\s*(\d{1,6})\s*([smhd])\s*$/i.exec(v);
  if (!m) throw new UsageError(`--${name} must be a number and a unit: 90s, 30m, 24h or 7d`, ctx.usage);
  return Number(m[1]) * UNITS[m[2]!.toLowerCase()]!;
}

function events(ctx: Ctx): string[] {
  const list = (str(ctx, 'events') ?? '').split(',').map((e) => e.trim()).filter(Boolean);
  if (!list.length) throw new UsageError('--events is needed: a comma-separated list of events', ctx.usage);
  const unknown = list.find((e) => !(WEBHOOK_EVENTS as readonly string[]).includes(e));
  if (unknown) throw new UsageError(`unknown event ${JSON.stringify(unknown)}; the events are: ${WEBHOOK_EVENTS.join(', ')}`, ctx.usage);
  return list;
}

export const webhookAdd: Command = {
  words: ['webhook', 'add'],
  synopsis: '--endpoint URL --events E1,E2 [--format json|slack|teams] [--name N] [--retry-for 24h]',
  summary: 'register a webhook endpoint; prints its signing secret once (needs webhook.edit)',
  help: `  --endpoint URL     where events are POSTed (http:// or https://; certificates are verified);
                     --url stays Census's own address, as for every command
  --events E1,E2     what it receives: ${WEBHOOK_EVENTS.join(', ')}
  --format F         json (default: Census's signed JSON), slack or teams (a message body)
  --name N           what it is for (default: the URL's host)
  --retry-for T      how long a failing delivery is retried: 90s, 30m, 24h (default), 7d at most
  --json             the API's answer, with the secret`,
  options: { endpoint: { type: 'string' }, events: { type: 'string' }, format: { type: 'string' }, name: { type: 'string' }, 'retry-for': { type: 'string' } },
  async run(ctx) {
    const url = str(ctx, 'endpoint');
    if (!url) throw new UsageError('--endpoint is needed: the URL events are POSTed to', ctx.usage);
    const format = choice(ctx, 'format', FORMATS);
    const name = str(ctx, 'name');
    const retryForMs = duration(ctx, 'retry-for');
    const made = await ctx.api().post(WEBHOOKS, {
      url, events: events(ctx),
      ...(format !== undefined ? { format } : {}), ...(name !== undefined ? { name } : {}), ...(retryForMs !== undefined ? { retryForMs } : {}),
    });
    if (ctx.json) return ctx.printJson(made);
    ctx.print(
      `Registered webhook ${made.name} (id ${made.id}) for ${made.events.join(', ')}.`,
      `Signing secret (shown only now; receivers check X-Census-Signature with it):`,
      `  ${made.secret}`,
    );
  },
};

export const webhookList: Command = {
  words: ['webhook', 'list'],
  synopsis: '',
  summary: 'list the webhook endpoints (needs webhook.view)',
  async run(ctx) {
    const hooks = await ctx.api().list(WEBHOOKS, 'webhooks');
    if (ctx.json) return ctx.printJson(hooks);
    if (!hooks.length) return ctx.print('No webhooks.');
    ctx.print(table(
      [{ title: 'id', align: 'right' }, 'name', 'format', 'enabled', 'events', 'url'],
      hooks.map((w: Json) => [w.id, w.name, w.format, w.enabled ? 'yes' : 'no', w.events.join(','), w.url]),
    ));
  },
};

export const webhookTest: Command = {
  words: ['webhook', 'test'],
  synopsis: 'ID',
  summary: 'send a signed test event to an endpoint now and show its answer (exit 1 if it failed)',
  args: ['ID'],
  async run(ctx) {
    const id = idArg(ctx, 0, 'the webhook id');
    const r = await ctx.api().post(`${WEBHOOKS}/${id}`, undefined, { action: 'test' }, 30_000);
    if (ctx.json) ctx.printJson(r);
    else if (r.ok) ctx.print(`Delivered: HTTP ${r.statusCode} in ${r.durationMs} ms.${r.response ? ` It answered: ${r.response}` : ''}`);
    else ctx.print(`Failed after ${r.durationMs} ms: ${r.error}${r.response ? `. It answered: ${r.response}` : ''}`);
    return r.ok ? 0 : 1;
  },
};

export const webhookDeliveries: Command = {
  words: ['webhook', 'deliveries'],
  synopsis: '[--webhook ID] [--status pending|queued|delivered|failed] [--limit N]',
  summary: 'list notification deliveries, newest first, with their attempts and last error',
  help: `  --webhook ID   only this endpoint's deliveries
  --status S     only pending, queued, delivered or failed ones
  --limit N      the latest N (default 50)
  --json         one JSON array of the deliveries as the API gives them`,
  options: { webhook: { type: 'string' }, status: { type: 'string' }, limit: { type: 'string' } },
  async run(ctx) {
    const filter: object[] = [];
    const hook = str(ctx, 'webhook');
    if (hook !== undefined) {
      if (!/^\d{1,9}$/.test(hook)) throw new UsageError('--webhook must be a webhook id', ctx.usage);
      filter.push({ property: 'channel', value: 'webhook' }, { property: 'targetId', value: Number(hook) });
    }
    const status = choice(ctx, 'status', STATUSES);
    if (status !== undefined) filter.push({ property: 'status', value: status.toUpperCase() });
    const limit = intOption(ctx, 'limit', 1, 100_000) ?? 50;
    const list = await ctx.api().list(DELIVERIES, 'deliveries', filter.length ? { filter: JSON.stringify(filter) } : {}, limit);
    if (ctx.json) return ctx.printJson(list);
    if (!list.length) return ctx.print('No deliveries.');
    ctx.print(table(
      [{ title: 'id', align: 'right' }, 'created', 'event', 'channel', { title: 'to', align: 'right' }, 'status', { title: 'tries', align: 'right' }, 'last error'],
      list.map((d: Json) => [d.id, humanTime(d.createdAt), d.eventType, d.channel, d.targetId, d.status, d.attemptCount, d.lastError]),
    ));
  },
};

export const webhookResend: Command = {
  words: ['webhook', 'resend'],
  synopsis: 'DELIVERY_ID',
  summary: 'send a delivered or failed delivery again (same event id)',
  args: ['DELIVERY_ID'],
  async run(ctx) {
    const id = idArg(ctx, 0, 'the delivery id');
    const d = await ctx.api().post(`${DELIVERIES}/${id}`, undefined, { action: 'resend' });
    if (ctx.json) return ctx.printJson(d);
    if (d.status !== 'PENDING') throw new CliError(`delivery ${id} is ${d.status}`);
    ctx.print(`Delivery ${id} (${d.eventType}, event ${d.eventId}) will be sent again now.`);
  },
};
