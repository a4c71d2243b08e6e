/**
 * A delivery channel (docs/notifications.md): how notifications reach one kind of receiver. The
 * dispatcher asks each channel which deliveries a notification makes (fanOut, inside the
 * transaction that marks the notification dispatched); a task of the delivery job sends one
 * delivery (send) and the job type records the attempt and what comes next (retry, give up).
 */
import type { Delivery, DeliveryChannel, Notification } from '../../core/notifications.ts';
import type { Repositories } from '../../store/index.ts';
import type { NewDelivery } from '../../store/notifications.ts';

export interface SendResult {
  ok: boolean;
  /** HTTP status, or the SMTP reply code. */
  statusCode: number | null;
  /** The first bytes of the receiver's answer (at most 2 KiB). */
  response: string | null;
  /** Why it failed, in words for the delivery log (never a secret). */
  error: string | null;
  /** False when trying again cannot help (a 4xx other than 408/429, a refused address): give up now. */
  retryable: boolean;
}

export interface Channel {
  readonly name: DeliveryChannel;
  /**
   * The deliveries a batch of notifications makes on this channel: one per notification and
   * receiver that wants it. A batch, so the receivers are read once for all of it.
   */
  fanOut(r: Repositories, batch: readonly Notification[], now: number): Promise<NewDelivery[]>;
  /** Sends one delivery; resolves with how it went (it does not throw for a receiver's failure). */
  send(d: Delivery, n: Notification, signal: AbortSignal): Promise<SendResult>;
}
