/**
 * The figures behind GET /metrics that come from the store: the same on every server of a
 * cluster, computed at each scrape with a few aggregate queries (src/store/metrics.ts).
 */
import type { Actor } from '../core/actor.ts';
import type { HistogramRow } from '../store/metrics.ts';
import type { ServiceContext } from './context.ts';

/** Upper bounds (seconds) of the session and task duration histograms. */
export const SESSION_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600];
export const TASK_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
/** Upper bounds (seconds) of the delivery latency histogram: notification written → delivered. */
export const DELIVERY_BUCKETS = [0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 21600, 86400];

export type { HistogramRow };

export interface StoreFigures {
  /** Ended sessions by job name and result, including those maintenance removed since. */
  sessions: { job: string; status: string; n: number }[];
  /** Durations of the ended sessions still in the store, by job name (SESSION_BUCKETS). */
  sessionDurations: HistogramRow[];
  /** Durations of the ended tasks still in the store, by application type and result (TASK_BUCKETS). */
  taskDurations: HistogramRow[];
  /** Tasks waiting and running now, across every process. */
  live: Record<'PENDING' | 'RUNNING', number>;
  /** Inventoried objects by type, application type and whether the last inventory missed them. */
  objects: { type: string; applicationType: string; missing: boolean; n: number }[];
  /** Alerts by kind and status (ACTIVE, ACKNOWLEDGED, CLEARED). */
  alerts: { kind: string; status: string; n: number }[];
  /** Notification deliveries by channel and status now (PENDING, QUEUED, DELIVERED, FAILED). */
  deliveries: { channel: string; status: string; n: number }[];
  /** Delivery attempts by channel and outcome. */
  deliveryAttempts: { channel: string; ok: boolean; n: number }[];
  /** Notification written → delivered, by channel (DELIVERY_BUCKETS). */
  deliveryLatency: HistogramRow[];
}

export function metricsService(ctx: ServiceContext) {
  const { store } = ctx;
  return {
    async figures(_actor: Actor): Promise<StoreFigures> {
      const [sessions, sessionDurations, taskDurations, live, objects, alerts, deliveries, deliveryAttempts, deliveryLatency] = await Promise.all([
        store.metrics.sessionTotals(),
        store.metrics.sessionDurations(SESSION_BUCKETS),
        store.metrics.taskDurations(TASK_BUCKETS),
        store.metrics.liveTasks(),
        store.metrics.inventoryObjects(),
        store.alerts.tally(),
        store.notifications.tally(),
        store.metrics.deliveryAttempts(),
        store.metrics.deliveryLatency(DELIVERY_BUCKETS),
      ]);
      return { sessions, sessionDurations, taskDurations, live, objects, alerts, deliveries, deliveryAttempts, deliveryLatency };
    },
  };
}

export type MetricsService = ReturnType<typeof metricsService>;
