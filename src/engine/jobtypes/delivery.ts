/**
 * Notification Delivery (job 1006, docs/notifications.md): one task per due delivery. A start
 * (or a start while it runs, which joins) moves due deliveries PENDING → QUEUED and plans their
 * tasks in the same transaction; a task sends its delivery through its channel and, in the
 * transaction that ends the task, records the attempt and what comes next: DELIVERED; PENDING
 * again after an exponential back-off while the delivery may still be retried; or FAILED, with
 * the alert `delivery.failed` on its receiver (a later success clears it).
 *
 * A process killed while sending leaves the task RUNNING and its delivery QUEUED: the task runs
 * again (lease, liveness) and sends again with the same event id, which receivers use to drop
 * what they already have. A task that ends without trying (cancelled, given up) leaves its
 * delivery QUEUED; the dispatcher's sweep puts it back to PENDING.
 */
import type { AlertObject } from '../../core/alerts.ts';
import type { Clock } from '../../core/clock.ts';
import { backoffMs, type Delivery } from '../../core/notifications.ts';
import type { Repositories } from '../../store/index.ts';
import type { Channel, SendResult } from '../delivery/channel.ts';
import { DELIVERY_SERVICE } from '../system-jobs.ts';
import type { JobType, Plan, TaskOutcome, TaskRun } from './types.ts';

/** A task's target kind: its targetId is the delivery's id. */
export const DELIVERY_TARGET = 'delivery';

export interface DeliveryOptions {
  clock: Clock;
  channels: readonly Channel[];
  /** First back-off after a failed attempt, and the longest (ms). */
  retryBaseMs: number;
  retryCapMs: number;
  /** Deliveries one start takes at most (the rest wait for the next). */
  batch?: number;
  /** Told when a delivery is PENDING again until `at` (the dispatcher wakes then rather than at its next poll). */
  onRetry?: (at: number) => void;
}

/**
 * A receiver as logs and alerts name it: a webhook by id and host only (a Slack or Teams URL
 * carries its token in the path), an e-mail delivery by its addresses.
 */
export function receiverName(d: Pick<Delivery, 'channel' | 'targetId' | 'target'>): string {
  if (d.channel !== 'webhook') return d.target;
  let host = '';
  try {
    host = ` at ${new URL(d.target).host}`;
  } catch {
    // not a URL: the id alone
  }
  return `webhook ${d.targetId ?? 'test'}${host}`;
}

/** The alert key of one receiver's given-up deliveries. */
export const deliveryAlertKey = (d: Pick<Delivery, 'channel' | 'targetId'>): string => `delivery:${d.channel}:${d.targetId ?? 'test'}`;

export function deliveryJobType(o: DeliveryOptions): JobType {
  const channels = new Map(o.channels.map((c) => [c.name, c]));
  const batch = o.batch ?? 500;

  async function planDue(r: Repositories): Promise<Plan> {
    const due = await r.notifications.queueDue(o.clock.now(), batch);
    return {
      tasks: due.map((d) => ({ name: `${d.eventType} → ${receiverName(d)}`.slice(0, 250), targetKind: DELIVERY_TARGET, targetId: String(d.id) })),
    };
  }

  /** The attempt and the delivery's next state, in the task's closing transaction. */
  async function record(r: Repositories, d: Delivery, res: SendResult, at: number, durationMs: number): Promise<void> {
    const attempts = d.attempts + 1;
    const retryAt = at + backoffMs(attempts, o.retryBaseMs, o.retryCapMs);
    const status = res.ok ? 'DELIVERED' : res.retryable && retryAt < d.giveUpAt ? 'PENDING' : 'FAILED';
    const moved = await r.notifications.recordAttempt(d.id, {
      attempt: { at, durationMs, ok: res.ok, statusCode: res.statusCode, response: res.response, error: res.error },
      status,
      ...(status === 'PENDING' ? { nextAttemptAt: retryAt } : {}),
    });
    if (!moved) return; // recorded already (a second run of the task): say nothing twice
    if (status === 'PENDING') o.onRetry?.(retryAt);
    if (status === 'DELIVERED') await r.alerts.clear(deliveryAlertKey(d), at);
    if (status === 'FAILED') {
      const object: AlertObject = { type: d.channel === 'webhook' ? 'webhook' : 'mailRecipient', id: d.targetId ?? 0, name: receiverName(d) };
      await r.alerts.raise({
        kind: 'delivery.failed', key: deliveryAlertKey(d), severity: 'ERROR', objects: [object],
        message: `Census gave up delivering ${d.eventType} (event ${d.eventId}) to ${receiverName(d)} after ${attempts} attempt${attempts === 1 ? '' : 's'}: ${res.error ?? 'failed'}`,
      }, at);
    }
  }

  async function run(t: TaskRun): Promise<TaskOutcome> {
    const id = Number(t.task.targetId);
    const d = await t.store.notifications.delivery(id);
    // Recorded by an earlier run whose end was lost, or sent again by hand meanwhile: nothing to do here.
    if (!d || d.status !== 'QUEUED') return { status: 'COMPLETED', message: d ? `delivery ${id} is ${d.status}` : `delivery ${id} no longer exists` };
    const n = await t.store.notifications.get(d.notificationId);
    const channel = channels.get(d.channel);
    const started = performance.now();
    const res: SendResult = !n
      ? { ok: false, statusCode: null, response: null, error: 'the notification no longer exists', retryable: false }
      : !channel
        ? { ok: false, statusCode: null, response: null, error: `no ${d.channel} channel in this process`, retryable: true }
        : await channel.send(d, n, t.signal);
    // Cut short (cancelled, or this process is stopping): no attempt; the task is handed back or
    // the dispatcher's sweep makes the delivery due again.
    if (t.signal.aborted && !res.ok) return { status: 'CANCELLED', message: 'stopped before the receiver answered' };
    const at = t.clock.now();
    const durationMs = Math.round(performance.now() - started);
    const commit = (r: Repositories) => record(r, d, res, at, durationMs);
    if (res.ok) return { status: 'COMPLETED', commit };
    return { status: 'FAILED', errorCode: res.retryable ? 'DELIVERY_RETRY' : 'DELIVERY_REFUSED', message: res.error ?? 'failed', commit };
  }

  return {
    serviceId: DELIVERY_SERVICE,
    plan: (r) => planDue(r),
    join: (r) => planDue(r),
    run,
  };
}
