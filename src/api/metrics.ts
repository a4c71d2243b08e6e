/**
 * GET /metrics: Prometheus text format 0.0.4, unauthenticated (counts only, like
 * /api/lifecycle/ping). Two kinds of figures (docs/operations.md, "Events and metrics"):
 *
 * - From the store, computed at each scrape with a few aggregate queries, so they are the same
 *   on every server of a cluster: job sessions by job and result, session and task duration
 *   histograms (over the sessions and tasks still in the store), tasks pending and running,
 *   inventory objects.
 * - In this process: HTTP requests by method, route pattern and status and their durations (the
 *   onResponse hook in server.ts calls observe(); counted by HttpFigures below, not prom-client,
 *   as they run on every request), and through prom-client failed logins and its default
 *   process_* and nodejs_* metrics.
 */
import { collectDefaultMetrics, Counter, Registry } from 'prom-client';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { systemActor } from '../core/actor.ts';
import { ALERT_KINDS, ALERT_STATUSES } from '../core/alerts.ts';
import { DELIVERY_BUCKETS, SESSION_BUCKETS, TASK_BUCKETS, type HistogramRow } from '../services/index.ts';
import { DELIVERY_CHANNELS, DELIVERY_STATUSES } from '../core/notifications.ts';
import { actorOf, type ApiContext } from './context.ts';

export const METRICS_ROUTE = '/metrics';
const LOGIN_ROUTE = '/api/endeavour/session';

const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** process_* and nodejs_* are about the process: one registry for it, however many servers it runs (tests). */
let processRegistry: Registry | undefined;
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

const escapeLabel = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
const escapeHelp = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
const formatValue = (v: number) => (Number.isFinite(v) ? String(v) : v > 0 ? '+Inf' : v < 0 ? '-Inf' : 'NaN');

/** Writes metric families in the text format, for the figures computed from the store. */
class Exposition {
  private lines: string[] = [];

  family(name: string, type: 'counter' | 'gauge' | 'histogram', help: string): this {
    this.lines.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`);
    return this;
  }

  sample(name: string, labels: Record<string, string>, value: number): this {
    const l = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',');
    this.lines.push(`${name}${l ? `{${l}}` : ''} ${formatValue(value)}`);
    return this;
  }

  histogram(name: string, bounds: readonly number[], rows: HistogramRow[]): this {
    for (const r of rows) {
      bounds.forEach((b, i) => this.sample(`${name}_bucket`, { ...r.labels, le: String(b) }, r.buckets[i] ?? 0));
      this.sample(`${name}_bucket`, { ...r.labels, le: '+Inf' }, r.count);
      this.sample(`${name}_sum`, r.labels, r.sum);
      this.sample(`${name}_count`, r.labels, r.count);
    }
    return this;
  }

  text(): string {
    return this.lines.length ? `${this.lines.join('\n')}\n` : '';
  }
}

/**
 * census_http_requests_total and census_http_request_duration_seconds, counted in plain numbers
 * and written in the text format at each scrape. prom-client's children hash and validate their
 * labels again on every inc() and observe() and find a histogram's bucket by a string key: about
 * 2 µs of each job status GET, where this costs a Map look-up and a few additions. The text is
 * what prom-client wrote for the same two families (HELP, TYPE, buckets cumulative with `+Inf`,
 * `_sum`, `_count`), so scrapers see no change.
 */
interface DurationSeries {
  labels: Record<string, string>;
  /** Per bucket, not cumulative (text() sums them). */
  buckets: number[];
  sum: number;
  count: number;
}

class HttpFigures {
  /** Request counts by `method status route`, each with its duration series; bounded: methods × route patterns × statuses. */
  private readonly counts = new Map<string, { labels: Record<string, string>; n: number; time: DurationSeries }>();
  /** Durations by `method route` (the histogram has no status label). */
  private readonly times = new Map<string, DurationSeries>();
  /** Of the requests counted, those the fast lane answered (src/api/fast-lane.ts). */
  fastLane = 0;

  observe(method: string, route: string, status: number, seconds: number): void {
    const key = `${method} ${status} ${route}`;
    let c = this.counts.get(key);
    if (!c) {
      const timeKey = `${method} ${route}`;
      let time = this.times.get(timeKey);
      if (!time) {
        time = { labels: { method, route }, buckets: HTTP_BUCKETS.map(() => 0), sum: 0, count: 0 };
        this.times.set(timeKey, time);
      }
      c = { labels: { method, route, status: String(status) }, n: 0, time };
      this.counts.set(key, c);
    }
    c.n += 1;
    const t = c.time;
    t.sum += seconds;
    t.count += 1;
    // The first bound at or above the value (as prom-client counts); above them all, only +Inf.
    for (let i = 0; i < HTTP_BUCKETS.length; i++) {
      if (seconds <= HTTP_BUCKETS[i]!) {
        t.buckets[i]! += 1;
        break;
      }
    }
  }

  text(): string {
    const e = new Exposition();
    e.family('census_http_requests_total', 'counter', 'HTTP requests answered by this process, by method, route pattern and status.');
    for (const c of this.counts.values()) e.sample('census_http_requests_total', c.labels, c.n);
    e.family('census_http_request_duration_seconds', 'histogram', 'Time to answer HTTP requests in this process, by method and route pattern.');
    e.histogram('census_http_request_duration_seconds', HTTP_BUCKETS, [...this.times.values()].map((t) => {
      let acc = 0;
      return { labels: t.labels, buckets: t.buckets.map((n) => (acc += n)), sum: t.sum, count: t.count };
    }));
    e.family('census_http_fast_lane_answers_total', 'counter', 'Of the requests in census_http_requests_total, those answered again from memory before the HTTP framework (repeated job GETs).');
    e.sample('census_http_fast_lane_answers_total', {}, this.fastLane);
    return e.text();
  }
}

export interface HttpMetrics {
  /** Counts one answered request (call from an onResponse hook). */
  observe(req: FastifyRequest, reply: FastifyReply): void;
  /** Counts one request answered without Fastify (the fast lane's). */
  count(method: string, route: string, status: number, seconds: number): void;
}

export function metricsRoutes(app: FastifyInstance, ctx: ApiContext): HttpMetrics {
  const { metrics } = ctx.services;
  const registry = new Registry();
  const http = new HttpFigures();
  const loginFailures = new Counter({
    name: 'census_login_failures_total', help: 'Logins this process refused (401 wrong credentials, 429 locked out).', registers: [registry],
  });

  async function storeMetrics(req: FastifyRequest): Promise<string> {
    // A scrape with the metrics token has no user behind it: Prometheus asks as a system actor.
    const actor = req.principal ? await actorOf(ctx, req) : systemActor('metrics');
    const { sessions, sessionDurations, taskDurations, live, objects, alerts, deliveries, deliveryAttempts, deliveryLatency } = await metrics.figures(actor);
    const e = new Exposition();
    e.family('census_job_sessions_total', 'counter', 'Job sessions that ended, by job name and result (including those maintenance removed since).');
    for (const s of sessions) e.sample('census_job_sessions_total', { job: s.job, status: s.status }, s.n);
    e.family('census_job_session_duration_seconds', 'histogram', 'Duration of the ended job sessions still in the store, by job name.');
    e.histogram('census_job_session_duration_seconds', SESSION_BUCKETS, sessionDurations);
    e.family('census_task_duration_seconds', 'histogram', 'Duration of the ended tasks still in the store, by application type and result.');
    e.histogram('census_task_duration_seconds', TASK_BUCKETS, taskDurations);
    e.family('census_tasks', 'gauge', 'Tasks waiting (PENDING) and running (RUNNING) now, across every process.');
    for (const status of ['PENDING', 'RUNNING'] as const) e.sample('census_tasks', { status }, live[status]);
    e.family('census_inventory_objects', 'gauge', 'Inventoried objects by type, application type and whether the last inventory missed them.');
    for (const o of objects) {
      e.sample('census_inventory_objects', { type: o.type, application_type: o.applicationType, missing: String(o.missing) }, o.n);
    }
    // Every kind and status, 0 where there is none, so a series does not vanish when its last alert clears.
    e.family('census_alerts', 'gauge', 'Alerts by kind and status (ACTIVE, ACKNOWLEDGED, CLEARED; cleared ones stay for the maintenance retention period).');
    const alertCount = new Map(alerts.map((a) => [`${a.kind} ${a.status}`, a.n]));
    for (const kind of ALERT_KINDS) {
      for (const status of ALERT_STATUSES) e.sample('census_alerts', { kind, status }, alertCount.get(`${kind} ${status}`) ?? 0);
    }
    // Every channel and status, 0 where there is none (as the alerts above).
    e.family('census_deliveries', 'gauge', 'Notification deliveries by channel (webhook, email) and status (PENDING, QUEUED, DELIVERED, FAILED) now.');
    const deliveryCount = new Map(deliveries.map((d) => [`${d.channel} ${d.status}`, d.n]));
    for (const channel of DELIVERY_CHANNELS) {
      for (const status of DELIVERY_STATUSES) e.sample('census_deliveries', { channel, status }, deliveryCount.get(`${channel} ${status}`) ?? 0);
    }
    e.family('census_delivery_attempts_total', 'counter', 'Attempts to deliver notifications, by channel and result (delivered, failed).');
    for (const channel of DELIVERY_CHANNELS) {
      for (const ok of [true, false]) {
        const n = deliveryAttempts.find((a) => a.channel === channel && a.ok === ok)?.n ?? 0;
        e.sample('census_delivery_attempts_total', { channel, result: ok ? 'delivered' : 'failed' }, n);
      }
    }
    e.family('census_delivery_latency_seconds', 'histogram', 'Time from a notification being written to its delivery, of the deliveries still in the store, by channel.');
    e.histogram('census_delivery_latency_seconds', DELIVERY_BUCKETS, deliveryLatency);
    return e.text();
  }

  app.get(METRICS_ROUTE, {
    schema: {
      'x-permission': 'metrics.view',
      summary: 'Prometheus metrics',
      description: 'Prometheus text exposition format 0.0.4 (`text/plain; version=0.0.4`), not JSON. Needs a login session, ' +
        'or `Authorization: Bearer <token>` with the token set by `census server --metrics-token` (for Prometheus).',
      tags: ['Metrics'],
      security: [{ sessionid: [] }, { metricsToken: [] }],
      response: { 200: { description: 'The metrics, as text.', content: { 'text/plain': { schema: { type: 'string' } } } } },
    },
  }, async (req, reply) => {
    // prom-client writes NaN as "Nan" (Prometheus reads it, case-insensitively); spell it as the format does.
    const own = http.text() + ((await registry.metrics()) + (await processMetrics().metrics())).replace(/ Nan$/gm, ' NaN');
    const text = (await storeMetrics(req)) + own;
    return reply.code(200).header('content-type', CONTENT_TYPE).header('cache-control', 'no-store').send(text);
  });

  return {
    observe(req, reply) {
      // The route pattern, never the raw URL: one series per route, whatever ids the paths carry.
      const route = req.routeOptions.url ?? 'unmatched';
      const status = reply.statusCode;
      http.observe(req.method, route, status, reply.elapsedTime / 1000);
      if (req.method === 'POST' && route === LOGIN_ROUTE && (status === 401 || status === 429)) loginFailures.inc();
    },
    count: (method, route, status, seconds) => {
      http.fastLane += 1;
      http.observe(method, route, status, seconds);
    },
  };
}
