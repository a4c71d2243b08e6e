/**
 * The aggregates behind GET /metrics: a handful of GROUP BY queries, each one pass over its table
 * (histogram buckets are SUM(CASE …) columns of the same pass), so a scrape costs a few cheap
 * queries however many sessions, tasks and objects the store holds.
 */
import { sql } from 'kysely';
import { ENDED_SESSION_STATUSES, ENDED_TASK_STATUSES } from '../core/status.ts';
import type { Db } from './rows.ts';

export interface HistogramRow {
  labels: Record<string, string>;
  /** Cumulative counts for each upper bound (seconds), in the order of the bounds given. */
  buckets: number[];
  count: number;
  /** Sum of the observed values, seconds. */
  sum: number;
}

const inList = (values: readonly string[]) => sql.join(values.map((v) => sql.lit(v)));

/** SUM(CASE WHEN ms <= bound THEN 1 ELSE 0 END) AS b0, … for each bound in seconds. */
function bucketColumns(ms: ReturnType<typeof sql>, bounds: readonly number[]) {
  return sql.join(bounds.map((b, i) => sql`SUM(CASE WHEN ${ms} <= ${sql.lit(Math.round(b * 1000))} THEN 1 ELSE 0 END) AS ${sql.raw(`b${i}`)}`));
}

function toHistogram(rows: Record<string, unknown>[], labelKeys: Record<string, string>, bounds: readonly number[]): HistogramRow[] {
  return rows.map((r) => ({
    labels: Object.fromEntries(Object.entries(labelKeys).map(([label, key]) => [label, String(r[key] ?? '')])),
    buckets: bounds.map((_, i) => Number(r[`b${i}`] ?? 0)),
    count: Number(r.n ?? 0),
    sum: Number(r.total ?? 0) / 1000,
  }));
}

export class MetricsRepository {
  constructor(private db: Db) {}

  /**
   * Ended sessions by job name and result: those in the store plus those maintenance removed
   * (tallied when it removed them), so the count only ever grows.
   */
  async sessionTotals(): Promise<{ job: string; status: string; n: number }[]> {
    const kept = await sql<{ job: string; status: string; n: number }>`
      SELECT job_name AS job, status, COUNT(*) AS n FROM job_sessions
      WHERE status IN (${inList(ENDED_SESSION_STATUSES)}) GROUP BY job_name, status`.execute(this.db);
    const removed = await this.db.selectFrom('sessionTallies').select(['jobName as job', 'status', 'n']).execute();
    const sums = new Map<string, { job: string; status: string; n: number }>();
    for (const r of [...kept.rows, ...removed]) {
      const key = JSON.stringify([r.job, r.status]);
      const have = sums.get(key);
      if (have) have.n += Number(r.n);
      else sums.set(key, { job: r.job, status: r.status, n: Number(r.n) });
    }
    return [...sums.values()];
  }

  /** Adds the ended sessions about to be deleted to the tallies (call in the deleting transaction). */
  async tallyRemoved(sessionIds: number[]): Promise<void> {
    if (!sessionIds.length) return;
    const rows = await this.db
      .selectFrom('jobSessions')
      .select(['jobName', 'status', (eb) => eb.fn.countAll<number>().as('n')])
      .where('id', 'in', sessionIds)
      .where('status', 'in', [...ENDED_SESSION_STATUSES])
      .groupBy(['jobName', 'status'])
      .execute();
    for (const r of rows) {
      await this.db
        .insertInto('sessionTallies')
        .values({ jobName: r.jobName, status: r.status, n: Number(r.n) })
        .onConflict((oc) => oc.columns(['jobName', 'status']).doUpdateSet((eb) => ({ n: eb('sessionTallies.n', '+', eb.ref('excluded.n')) })))
        .execute();
    }
  }

  /** Durations of the ended sessions still in the store, by job name. */
  async sessionDurations(bounds: readonly number[]): Promise<HistogramRow[]> {
    const ms = sql`("end" - start)`;
    const r = await sql<Record<string, unknown>>`
      SELECT job_name AS job, COUNT(*) AS n, SUM(${ms}) AS total, ${bucketColumns(ms, bounds)}
      FROM job_sessions WHERE "end" IS NOT NULL AND status IN (${inList(ENDED_SESSION_STATUSES)})
      GROUP BY job_name`.execute(this.db);
    return toHistogram(r.rows, { job: 'job' }, bounds);
  }

  /**
   * Durations of the ended tasks still in the store, by the application type of their server
   * ("none" for tasks without one, like maintenance; "unknown" once the server was removed) and
   * how they ended.
   */
  async taskDurations(bounds: readonly number[]): Promise<HistogramRow[]> {
    const ms = sql`(t."end" - t.start)`;
    const appType = sql`COALESCE(a.application_type, CASE WHEN t.appserver_id IS NULL THEN 'none' ELSE 'unknown' END)`;
    const r = await sql<Record<string, unknown>>`
      SELECT ${appType} AS apptype, t.status AS status, COUNT(*) AS n, SUM(${ms}) AS total, ${bucketColumns(ms, bounds)}
      FROM tasks t LEFT JOIN appservers a ON a.id = t.appserver_id
      WHERE t.start IS NOT NULL AND t."end" IS NOT NULL AND t.status IN (${inList(ENDED_TASK_STATUSES)})
      GROUP BY ${appType}, t.status`.execute(this.db);
    return toHistogram(r.rows, { application_type: 'apptype', status: 'status' }, bounds);
  }

  /** Time from a notification's creation to its delivery, of the deliveries still in the store, by channel (docs/notifications.md). */
  async deliveryLatency(bounds: readonly number[]): Promise<HistogramRow[]> {
    const ms = sql`(d.delivered_at - n.created_at)`;
    const r = await sql<Record<string, unknown>>`
      SELECT d.channel AS channel, COUNT(*) AS n, SUM(${ms}) AS total, ${bucketColumns(ms, bounds)}
      FROM deliveries d JOIN notifications n ON n.id = d.notification_id
      WHERE d.status = 'DELIVERED' AND d.delivered_at IS NOT NULL
      GROUP BY d.channel`.execute(this.db);
    return toHistogram(r.rows, { channel: 'channel' }, bounds);
  }

  /** Delivery attempts by channel and whether they succeeded: those in the store and those maintenance removed. */
  async deliveryAttempts(): Promise<{ channel: string; ok: boolean; n: number }[]> {
    const r = await sql<{ channel: string; ok: number | boolean; n: number | string }>`
      SELECT channel, ok, SUM(n) AS n FROM (
        SELECT d.channel AS channel, a.ok AS ok, COUNT(*) AS n
        FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id
        GROUP BY d.channel, a.ok
        UNION ALL
        SELECT channel, ok, n FROM delivery_attempt_tallies
      ) t GROUP BY channel, ok`.execute(this.db);
    return r.rows.map((x) => ({ channel: x.channel, ok: Boolean(Number(x.ok)), n: Number(x.n) }));
  }

  /** Tasks waiting and running now, across every process. */
  async liveTasks(): Promise<Record<'PENDING' | 'RUNNING', number>> {
    const rows = await this.db
      .selectFrom('tasks')
      .select(['status', (eb) => eb.fn.countAll<number>().as('n')])
      .where('status', 'in', ['PENDING', 'RUNNING'])
      .groupBy('status')
      .execute();
    const n = (s: string) => Number(rows.find((r) => r.status === s)?.n ?? 0);
    return { PENDING: n('PENDING'), RUNNING: n('RUNNING') };
  }

  /** Inventory objects by type (instance, database, filesystem, …), application type and whether they went missing. */
  async inventoryObjects(): Promise<{ type: string; applicationType: string; missing: boolean; n: number }[]> {
    const instances = await this.db
      .selectFrom('instances')
      .select(['applicationType', 'missing', (eb) => eb.fn.countAll<number>().as('n')])
      .groupBy(['applicationType', 'missing'])
      .execute();
    const children = await this.db
      .selectFrom('databases as d')
      .innerJoin('instances as i', 'i.id', 'd.instanceId')
      .select(['d.objectType as type', 'i.applicationType as applicationType', 'd.missing as missing', (eb) => eb.fn.countAll<number>().as('n')])
      .groupBy(['d.objectType', 'i.applicationType', 'd.missing'])
      .execute();
    return [
      ...instances.map((r) => ({ type: 'instance', applicationType: r.applicationType, missing: Number(r.missing) === 1, n: Number(r.n) })),
      ...children.map((r) => ({ type: r.type, applicationType: r.applicationType, missing: Number(r.missing) === 1, n: Number(r.n) })),
    ];
  }
}
