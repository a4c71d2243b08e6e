/**
 * The webhook channel (docs/notifications.md): every enabled endpoint whose events match a
 * notification gets a delivery; sending one is a signed JSON POST. The event id, type and
 * timestamp travel in headers, and `X-Census-Signature: v1=<hex>` is the HMAC-SHA256, under the
 * endpoint's secret, of "<timestamp>.<raw body>" — so a receiver can check who sent it, that it
 * was not changed, and drop a replay or a retry it already has (the event id never changes).
 */
import { createHmac } from 'node:crypto';
import { eventNames, type Delivery, type Notification } from '../../core/notifications.ts';
import type { Clock } from '../../core/clock.ts';
import type { SecretBox } from '../../core/secret-box.ts';
import type { Repositories, Store } from '../../store/index.ts';
import type { WebhookFormat } from '../../store/receivers.ts';
import type { Channel, SendResult } from './channel.ts';
import { summarise, tone } from './summary.ts';

/** One thing to post: a stored notification, or the test event of `?action=test`. */
export interface WebhookEvent {
  eventId: string;
  type: string;
  createdAt: number;
  data: unknown;
}

export interface WebhookTarget {
  url: string;
  /** The signing secret, open. */
  secret: string;
  format: WebhookFormat;
}

/** How long one POST may take, connection to last byte of the answer. */
export const WEBHOOK_TIMEOUT_MS = 10_000;
/** Kept of a receiver's answer, for the delivery log. */
const MAX_RESPONSE = 2048;

/** `v1=` and the hex HMAC-SHA256 of "<timestamp>.<body>" under `secret`. */
export function signature(secret: string, timestamp: number, body: string): string {
  return `v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

const COLOURS = { good: '2EB67D', warning: 'ECB22E', bad: 'E01E5A', neutral: '1D9BD1' } as const;

/** The body in the endpoint's format: Census's JSON, a Slack incoming-webhook message, or a Teams Adaptive Card message. */
export function webhookBody(format: WebhookFormat, ev: WebhookEvent): string {
  const line = summarise(ev);
  const when = new Date(ev.createdAt).toISOString();
  if (format === 'slack') {
    return JSON.stringify({
      text: line,
      blocks: [
        { type: 'section', text: { type: 'mrkdwn', text: line } },
        { type: 'context', elements: [{ type: 'mrkdwn', text: `Census · ${ev.type} · ${when} · event ${ev.eventId}` }] },
      ],
    });
  }
  if (format === 'teams') {
    const t = tone(ev);
    return JSON.stringify({
      type: 'message',
      summary: line,
      attachments: [{
        contentType: 'application/vnd.microsoft.card.adaptive',
        contentUrl: null,
        content: {
          $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
          type: 'AdaptiveCard',
          version: '1.4',
          body: [
            { type: 'TextBlock', text: 'Census', weight: 'Bolder', size: 'Medium', color: t === 'bad' ? 'Attention' : t === 'good' ? 'Good' : t === 'warning' ? 'Warning' : 'Default' },
            { type: 'TextBlock', text: line, wrap: true },
            { type: 'FactSet', facts: [{ title: 'Event', value: ev.type }, { title: 'When', value: when }, { title: 'Event id', value: ev.eventId }] },
          ],
          msteams: { width: 'Full' },
        },
      }],
      themeColor: COLOURS[t],
    });
  }
  return JSON.stringify({ id: ev.eventId, type: ev.type, createdAt: ev.createdAt, data: ev.data });
}

/** Words for a network failure, from fetch's error and its cause (never the secret: it is in no URL or error). */
function networkError(err: unknown): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  const cause = e.cause;
  if (cause?.code && cause.message) return cause.message.includes(cause.code) ? cause.message : `${cause.code}: ${cause.message}`;
  return cause?.message ?? e.message ?? String(err);
}

/** Trying again can help: network errors and timeouts (decided by the caller), 408, 429, 5xx. */
export const retryableStatus = (status: number): boolean => status === 408 || status === 429 || status >= 500;

/**
 * Posts one event to one endpoint and says how it went; never throws for the receiver's sake.
 * `signal` is the task's: when it aborts, the result says so (`aborted`) and the caller records
 * no attempt. Redirects are not followed (a 3xx is a failure: the endpoint should be corrected).
 */
export async function postWebhook(
  target: WebhookTarget, ev: WebhookEvent, signal: AbortSignal, now: () => number, timeoutMs = WEBHOOK_TIMEOUT_MS,
): Promise<SendResult & { durationMs: number; aborted: boolean }> {
  const body = webhookBody(target.format, ev);
  const timestamp = Math.floor(now() / 1000);
  const started = performance.now();
  const timeout = AbortSignal.timeout(timeoutMs);
  const took = () => Math.round(performance.now() - started);
  try {
    const res = await fetch(target.url, {
      method: 'POST',
      redirect: 'manual',
      signal: AbortSignal.any([signal, timeout]),
      headers: {
        'content-type': 'application/json',
        'user-agent': 'Census-Webhook/1',
        'x-census-event-id': ev.eventId,
        'x-census-event': ev.type,
        'x-census-timestamp': String(timestamp),
        'x-census-signature': signature(target.secret, timestamp, body),
      },
      body,
    });
    const text = (await res.text()).slice(0, MAX_RESPONSE);
    const ok = res.status >= 200 && res.status < 300;
    return {
      ok, statusCode: res.status, response: text || null, durationMs: took(), aborted: false,
      error: ok ? null : `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`,
      retryable: !ok && retryableStatus(res.status),
    };
  } catch (err) {
    if (signal.aborted) return { ok: false, statusCode: null, response: null, error: 'stopped before the receiver answered', retryable: true, durationMs: took(), aborted: true };
    const timedOut = timeout.aborted;
    return {
      ok: false, statusCode: null, response: null, durationMs: took(), aborted: false, retryable: true,
      error: timedOut ? `no answer within ${Math.round(timeoutMs / 1000)} s` : networkError(err),
    };
  }
}

/** A webhook's id from the delivery (its target). */
const webhookId = (d: Delivery): number | null => d.targetId;

export function webhookChannel(o: { store: Store; secrets: SecretBox; clock: Clock; timeoutMs?: number }): Channel {
  return {
    name: 'webhook',

    async fanOut(r: Repositories, batch: readonly Notification[], now: number) {
      const enabled = (await r.webhooks.all()).filter((w) => w.enabled);
      return batch.flatMap((n) => {
        const names = eventNames(n);
        return enabled.filter((w) => w.events.some((e) => names.includes(e))).map((w) => ({
          notificationId: n.id, channel: 'webhook' as const, targetId: w.id, target: w.url, nextAttemptAt: now, giveUpAt: now + w.retryForMs,
        }));
      });
    },

    async send(d: Delivery, n: Notification, signal: AbortSignal): Promise<SendResult> {
      const id = webhookId(d);
      const w = id === null ? undefined : await o.store.webhooks.get(id);
      // The endpoint as it is now: a changed URL or a rotated secret applies to retries too.
      if (!w) return { ok: false, statusCode: null, response: null, error: 'the webhook was removed', retryable: false };
      let secret: string;
      try {
        secret = o.secrets.open(w.secret);
      } catch {
        return { ok: false, statusCode: null, response: null, error: 'the signing secret cannot be opened with this process\'s key', retryable: true };
      }
      // Cut short by the task's signal: the job type sees the signal and records no attempt.
      const { ok, statusCode, response, error, retryable } = await postWebhook({ url: w.url, secret, format: w.format }, n, signal, () => o.clock.now(), o.timeoutMs);
      return { ok, statusCode, response, error, retryable };
    },
  };
}
