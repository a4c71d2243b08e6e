/**
 * Notifications (docs/notifications.md): what Census tells the outside world, each written as one
 * row in the same transaction as the change that caused it (the outbox), then fanned out into
 * deliveries, one per receiver (a webhook endpoint, an e-mail recipient list), each delivered
 * by a task of the delivery job. A notification's `eventId` never changes, so a receiver that gets
 * a retry of something it already has can drop it. Pure: types and the rules of who gets what.
 */
import type { Alert } from './alerts.ts';
import type { SessionStatus } from './status.ts';

export const NOTIFICATION_TYPES = [
  'session.ended',
  'alert.raised',
  'alert.cleared',
  'inventory.changed',
  'server.registered',
  'server.removed',
] as const;
export type NotificationType = (typeof NOTIFICATION_TYPES)[number];

/** What a webhook may subscribe to: a type, or session.ended narrowed to a result ("session.ended.FAILED"). */
export const WEBHOOK_EVENTS = [
  ...NOTIFICATION_TYPES,
  'session.ended.COMPLETED', 'session.ended.PARTIAL', 'session.ended.FAILED', 'session.ended.CANCELLED',
] as const;

export interface SessionEndedData {
  session: { id: number; jobId: number; jobName: string; status: SessionStatus; start: number; end: number | null; trigger: string };
  /** The servers whose tasks did not complete, and why. */
  failed: { name: string; reason: string | null }[];
  tasks: { total: number; completed: number; failed: number; cancelled: number };
}

export interface AlertData {
  alert: Alert;
}

export interface InventoryChangedData {
  appserver: { id: number; name: string; type: string };
  sessionId: number | null;
  /** How many changes there were; `changes` lists the first 100. */
  total: number;
  changes: { objectType: string; objectName: string; parentName: string | null; change: string; field: string | null; oldValue: string | null; newValue: string | null }[];
}

export interface ServerData {
  appserver: { id: number; name: string; type: string; host: string };
}

export interface NewNotification {
  type: NotificationType;
  /** Type-specific: SessionEndedData, AlertData, InventoryChangedData, ServerData. */
  data: unknown;
}

export interface Notification extends NewNotification {
  id: number;
  /** Stable across every retry and every receiver. */
  eventId: string;
  createdAt: number;
  dispatchedAt: number | null;
}

/** The event names a notification answers to, for matching a webhook's subscription. */
export function eventNames(n: NewNotification): string[] {
  if (n.type === 'session.ended') {
    const status = (n.data as SessionEndedData)?.session?.status;
    return status ? [n.type, `${n.type}.${status}`] : [n.type];
  }
  return [n.type];
}

export const DELIVERY_CHANNELS = ['webhook', 'email'] as const;
export type DeliveryChannel = (typeof DELIVERY_CHANNELS)[number];

export const DELIVERY_STATUSES = ['PENDING', 'QUEUED', 'DELIVERED', 'FAILED'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

export interface Delivery {
  id: number;
  notificationId: number;
  eventId: string;
  eventType: NotificationType;
  channel: DeliveryChannel;
  /** The webhook's id, or the mail recipient rule's id (null for a test message). */
  targetId: number | null;
  /** Where it goes: the URL, or the addresses. */
  target: string;
  status: DeliveryStatus;
  attempts: number;
  nextAttemptAt: number;
  giveUpAt: number;
  createdAt: number;
  deliveredAt: number | null;
  lastError: string | null;
}

export interface DeliveryAttempt {
  id: number;
  deliveryId: number;
  at: number;
  durationMs: number;
  ok: boolean;
  /** HTTP status, or the SMTP reply code. */
  statusCode: number | null;
  /** The first bytes of the answer. */
  response: string | null;
  error: string | null;
}

/** Back-off before attempt `n + 1` after `n` failed ones: base · 2^(n−1), capped. */
export function backoffMs(attempts: number, baseMs: number, capMs: number): number {
  return Math.min(capMs, baseMs * 2 ** Math.max(0, attempts - 1));
}
