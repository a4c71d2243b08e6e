/**
 * Webhook endpoints and the delivery log (docs/notifications.md): register, change, test and
 * remove endpoints; list deliveries with their attempts and send one again by hand. An
 * endpoint's signing secret is made here (unless given), sealed with the secret box like an
 * identity's password, and shown once: in the answer that made it or rotated it. Nothing else
 * ever answers with it.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Actor } from '../core/actor.ts';
import { conflict, invalid, notAllowed, notFound } from '../core/errors.ts';
import { WEBHOOK_EVENTS, type Delivery, type DeliveryAttempt } from '../core/notifications.ts';
import type { ListQuery, ListResult } from '../core/query.ts';
import { postWebhook } from '../engine/delivery/webhook.ts';
import type { WebhookFormat, WebhookRow } from '../store/receivers.ts';
import type { AuditSpecs } from './audit.ts';
import type { ServiceContext } from './context.ts';

export const WEBHOOK_FORMATS: readonly WebhookFormat[] = ['json', 'slack', 'teams'];
/** How long a delivery is retried unless the endpoint says otherwise. */
export const DEFAULT_RETRY_FOR_MS = 24 * 3_600_000;
export const MAX_RETRY_FOR_MS = 7 * 24 * 3_600_000;

/** An endpoint as callers see it: never its secret. */
export type WebhookView = Omit<WebhookRow, 'secret'> & { secretSet: true };

export interface WebhookInput {
  url: string;
  events: string[];
  name?: string;
  format?: string;
  /** Default: a new random one, shown once. */
  secret?: string;
  enabled?: boolean;
  retryForMs?: number;
}

export type WebhookChanges = Partial<WebhookInput> & { rotateSecret?: boolean };

export interface TestResult {
  ok: boolean;
  statusCode: number | null;
  response: string | null;
  error: string | null;
  durationMs: number;
}

const view = ({ secret: _sealed, ...w }: WebhookRow): WebhookView => ({ ...w, secretSet: true });

/** `whsec_` and 32 random bytes, base64url: long enough that guessing is hopeless. */
const newSecret = () => `whsec_${randomBytes(32).toString('base64url')}`;

function checkUrl(raw: string | undefined): string {
  const text = (raw ?? '').trim();
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw invalid(`"url" must be an http:// or https:// URL; got ${JSON.stringify(text.slice(0, 80))}.`, 'webhook.url');
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw invalid('"url" must be an http:// or https:// URL.', 'webhook.url');
  if (u.username || u.password) throw invalid('"url" must not carry a user name or password: the signature says who sent it.', 'webhook.url');
  if (text.length > 2048) throw invalid('"url" is longer than 2048 characters.', 'webhook.url');
  return u.toString();
}

function checkEvents(events: string[] | undefined): string[] {
  if (!Array.isArray(events) || !events.length) throw invalid(`"events" must list at least one of: ${WEBHOOK_EVENTS.join(', ')}.`, 'webhook.events');
  const unknown = events.filter((e) => !(WEBHOOK_EVENTS as readonly string[]).includes(e));
  if (unknown.length) throw invalid(`Unknown event ${JSON.stringify(unknown[0])}; the events are: ${WEBHOOK_EVENTS.join(', ')}.`, 'webhook.events');
  return [...new Set(events)];
}

function checkFormat(format: string | undefined): WebhookFormat {
  const f = (format ?? 'json').toLowerCase() as WebhookFormat;
  if (!WEBHOOK_FORMATS.includes(f)) throw invalid(`"format" must be one of ${WEBHOOK_FORMATS.join(', ')}.`, 'webhook.format');
  return f;
}

function checkRetryFor(ms: number | undefined): number {
  if (ms === undefined) return DEFAULT_RETRY_FOR_MS;
  if (!Number.isInteger(ms) || ms < 0 || ms > MAX_RETRY_FOR_MS) throw invalid(`"retryForMs" must be a whole number of milliseconds from 0 to ${MAX_RETRY_FOR_MS} (7 days).`, 'webhook.retry-for');
  return ms;
}

function checkSecret(secret: string): string {
  if (secret.length < 16 || secret.length > 256) throw invalid('"secret" must be 16 to 256 characters (or leave it out and Census makes one).', 'webhook.secret');
  return secret;
}

function checkName(name: string | undefined, url: string): string {
  const n = (name ?? '').trim() || new URL(url).host;
  if (n.length > 128) throw invalid('"name" is longer than 128 characters.', 'webhook.name');
  return n;
}

export function webhookService(ctx: ServiceContext) {
  const { store, clock, secrets, engine } = ctx;

  async function row(id: number): Promise<WebhookRow> {
    const w = await store.webhooks.get(id);
    if (!w) throw notFound('Webhook', id);
    return w;
  }

  async function delivery(id: number): Promise<Delivery> {
    const d = await store.notifications.delivery(id);
    if (!d) throw notFound('Delivery', id);
    return d;
  }

  return {
    async list(_actor: Actor): Promise<WebhookView[]> {
      return (await store.webhooks.all()).map(view);
    },

    async get(_actor: Actor, id: number): Promise<WebhookView> {
      return view(await row(id));
    },

    /** Registers an endpoint; the answer holds its secret this once. */
    async create(_actor: Actor, input: WebhookInput): Promise<{ webhook: WebhookView; secret: string }> {
      const url = checkUrl(input.url);
      const secret = input.secret === undefined ? newSecret() : checkSecret(input.secret);
      const w = await store.webhooks.create({
        name: checkName(input.name, url), url, events: checkEvents(input.events), format: checkFormat(input.format),
        secret: secrets.seal(secret), enabled: input.enabled ?? true, retryForMs: checkRetryFor(input.retryForMs), createdAt: clock.now(),
      });
      return { webhook: view(w), secret };
    },

    /** Changes what is given; `rotateSecret` (or a new `secret`) answers the new secret this once. */
    async update(_actor: Actor, id: number, c: WebhookChanges): Promise<{ webhook: WebhookView; secret?: string }> {
      const current = await row(id);
      if (c.rotateSecret && c.secret !== undefined) throw invalid('Give "secret" or "rotateSecret", not both.', 'webhook.secret');
      const url = c.url === undefined ? current.url : checkUrl(c.url);
      const secret = c.secret !== undefined ? checkSecret(c.secret) : c.rotateSecret ? newSecret() : undefined;
      const w = await store.webhooks.update(id, {
        ...(c.url !== undefined ? { url } : {}),
        ...(c.name !== undefined ? { name: checkName(c.name, url) } : {}),
        ...(c.events !== undefined ? { events: checkEvents(c.events) } : {}),
        ...(c.format !== undefined ? { format: checkFormat(c.format) } : {}),
        ...(c.enabled !== undefined ? { enabled: c.enabled } : {}),
        ...(c.retryForMs !== undefined ? { retryForMs: checkRetryFor(c.retryForMs) } : {}),
        ...(secret !== undefined ? { secret: secrets.seal(secret) } : {}),
      });
      if (!w) throw notFound('Webhook', id);
      return { webhook: view(w), ...(secret !== undefined ? { secret } : {}) };
    },

    /** Its deliveries still waiting fail as "the webhook was removed"; the log keeps them. */
    async delete(_actor: Actor, id: number): Promise<void> {
      if (!(await store.webhooks.delete(id))) throw notFound('Webhook', id);
    },

    /** Posts a signed `webhook.test` event now and says how the endpoint answered (nothing is stored). */
    async test(_actor: Actor, id: number): Promise<TestResult> {
      const w = await row(id);
      const event = {
        eventId: randomUUID(), type: 'webhook.test', createdAt: clock.now(),
        data: { webhook: { id: w.id, name: w.name }, message: 'A test event from Census.' },
      };
      let secret: string;
      try {
        secret = secrets.open(w.secret);
      } catch {
        throw notAllowed(`The signing secret of webhook ${id} cannot be opened with this server's key: rotate it ("rotateSecret": true).`, 'webhook.secret-unreadable');
      }
      const r = await postWebhook({ url: w.url, secret, format: w.format }, event, new AbortController().signal, () => clock.now());
      return { ok: r.ok, statusCode: r.statusCode, response: r.response, error: r.error, durationMs: r.durationMs };
    },

    deliveries(_actor: Actor, q: ListQuery): Promise<ListResult<Delivery>> {
      return store.notifications.listDeliveries(q);
    },

    async delivery(_actor: Actor, id: number): Promise<{ delivery: Delivery; attempts: DeliveryAttempt[] }> {
      return { delivery: await delivery(id), attempts: await store.notifications.attempts(id) };
    },

    /** Sends a DELIVERED or FAILED delivery again, now, retried for its receiver's time again. */
    async resend(_actor: Actor, id: number): Promise<Delivery> {
      const d = await delivery(id);
      if (d.status !== 'DELIVERED' && d.status !== 'FAILED') {
        throw conflict(`Delivery ${id} is ${d.status}: it will be sent without being asked.`, 'delivery.pending');
      }
      const now = clock.now();
      const w = d.channel === 'webhook' && d.targetId !== null ? await store.webhooks.get(d.targetId) : undefined;
      const again = await store.notifications.resend(id, now, now + (w?.retryForMs ?? DEFAULT_RETRY_FOR_MS));
      void engine.dispatchNotifications(); // at once, not at the next poll
      return again!;
    },
  };
}

export type WebhookService = ReturnType<typeof webhookService>;

/** How webhook changes are recorded in the audit log (field names only: never the secret). */
export function webhookAuditSpecs(ctx: Pick<ServiceContext, 'store'>): AuditSpecs<WebhookService> {
  const name = async ([id]: [number, ...unknown[]]) => (await ctx.store.webhooks.get(id))?.name;
  return {
    create: {
      action: 'webhook.create', targetType: 'webhook',
      target: (_args, r) => ({ id: r?.webhook.id ?? null, name: r?.webhook.name ?? null }),
      detail: ([input]) => ({ events: input.events, format: input.format ?? 'json' }),
    },
    update: {
      action: 'webhook.update', targetType: 'webhook', nameBefore: name,
      detail: ([, c]) => ({ fields: Object.keys(c).filter((k) => k !== 'secret').sort(), ...(c.secret !== undefined ? { secretGiven: true } : {}) }),
    },
    delete: { action: 'webhook.delete', targetType: 'webhook', nameBefore: name },
    test: { action: 'webhook.test', targetType: 'webhook', nameBefore: name, detail: (_args, r) => (r ? { ok: r.ok, statusCode: r.statusCode } : undefined) },
    resend: { action: 'delivery.resend', targetType: 'delivery' },
  };
}
