/**
 * What the alerts bell, the Alerts page and the notification settings share: the words for alert
 * kinds and webhook events, the count of ACTIVE alerts, and a tab-wide "alerts changed" signal
 * (an acknowledgement on the Alerts page updates the bell at once, without waiting for its poll).
 */
import { useEffect, useRef } from 'react';
import { get, query } from '../api/client';
import type { AlertKind, Envelope, WebhookEvent } from '../api/types';
import { useEvents, useStreamLive } from './events';
import { usePolled } from './usePolled';

export const ALERTS_PATH = '/api/endeavour/alert/message';

/** Every alert kind, in words (a Record, so a new kind on the server fails the type check until it has its words). */
export const ALERT_KIND_LABELS: Record<AlertKind, string> = {
  'session.failed': 'Job session failed',
  'schedule.missed': 'Scheduled run missed',
  'session.stalled': 'Session stalled',
  'server.failing': 'Server failing inventories',
  'inventory.database-removed': 'Database removed',
  'inventory.version-changed': 'Version changed',
  'inventory.finding': 'Readiness finding',
  'delivery.failed': 'Notification not delivered',
};
export const ALERT_KINDS = Object.keys(ALERT_KIND_LABELS) as AlertKind[];
/** A kind in words; an unknown one (a newer server) as it is. */
export const kindLabel = (k: string): string => (ALERT_KIND_LABELS as Record<string, string>)[k] ?? k;

export const WEBHOOK_EVENT_LABELS: Record<WebhookEvent, string> = {
  'session.ended': 'Session ended (any result)',
  'session.ended.COMPLETED': 'Session completed',
  'session.ended.PARTIAL': 'Session partial',
  'session.ended.FAILED': 'Session failed',
  'session.ended.CANCELLED': 'Session cancelled',
  'alert.raised': 'Alert raised',
  'alert.cleared': 'Alert cleared',
  'inventory.changed': 'Inventory changed',
  'server.registered': 'Server registered',
  'server.removed': 'Server removed',
};
export const WEBHOOK_EVENTS = Object.keys(WEBHOOK_EVENT_LABELS) as WebhookEvent[];
export const eventLabel = (e: string): string => (WEBHOOK_EVENT_LABELS as Record<string, string>)[e] ?? e;

/** Session results a mail recipient may ask for (none chosen: FAILED and PARTIAL). */
export const SESSION_RESULTS = ['COMPLETED', 'PARTIAL', 'FAILED', 'CANCELLED'] as const;

const changed = new Set<() => void>();

/** Says the alerts changed here (acknowledged): the bell reads its count again. */
export function alertsChanged(): void {
  for (const l of [...changed]) l();
}

function useAlertsChanged(handler: () => void): void {
  const ref = useRef(handler);
  ref.current = handler;
  useEffect(() => {
    const l = () => ref.current();
    changed.add(l);
    return () => {
      changed.delete(l);
    };
  }, []);
}

/** The bell's pace: a safety poll while the event stream is up, a modest poll when it is not. */
const STREAM_POLL_MS = 30_000;
const POLL_MS = 10_000;

/**
 * The number of ACTIVE alerts (the list's `total` for status ACTIVE, one record asked for).
 * Alerts are raised and cleared mostly as sessions and tasks end, so those events read it again.
 */
export function useActiveAlertCount(enabled: boolean) {
  const live = useStreamLive();
  const count = usePolled<number | null>(
    async (signal) => {
      if (!enabled) return null;
      const q = query({ filter: [{ property: 'status', value: 'ACTIVE', op: '=' }], pageSize: 1 });
      return (await get<Envelope>(`${ALERTS_PATH}${q}`, signal)).total;
    },
    `active-alerts:${enabled}`,
    () => (enabled ? (live ? STREAM_POLL_MS : POLL_MS) : null),
    live ? 'stream' : 'poll',
  );
  useEvents((e) => {
    if (enabled && (e.type === 'reset' || e.type === 'session.ended' || e.type === 'job.status')) count.poke();
  });
  useAlertsChanged(() => count.poke());
  return count;
}
