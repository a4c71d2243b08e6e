/**
 * The notification outbox and its deliveries (core/notifications.ts). A notification is written in
 * the transaction of the change that caused it; the engine's dispatcher fans it out into
 * deliveries (one per receiver) and marks it dispatched in one transaction; the delivery job's
 * plan moves due deliveries PENDING → QUEUED, each with its task; a task's end records the attempt
 * and moves its delivery to DELIVERED, back to PENDING (a retry, later) or FAILED (given up).
 */
import { randomUUID } from 'node:crypto';
import { sql, type Selectable } from 'kysely';
import type {
  Delivery, DeliveryAttempt, DeliveryChannel, DeliveryStatus, NewNotification, Notification, NotificationType,
} from '../core/notifications.ts';
import type { ListQuery, ListResult } from '../core/query.ts';
import type { Dialect } from './migrations.ts';
import { bool, json, listPage, type Db } from './rows.ts';
import type { DeliveriesTable, DeliveryAttemptsTable, NotificationsTable } from './schema.ts';

const toNotification = (r: Selectable<NotificationsTable>): Notification => ({
  id: Number(r.id),
  eventId: r.eventId,
  type: r.type as NotificationType,
  data: json<unknown>(r.data, null),
  createdAt: Number(r.createdAt),
  dispatchedAt: r.dispatchedAt === null ? null : Number(r.dispatchedAt),
});

type DeliveryRow = Selectable<DeliveriesTable> & { eventId: string; eventType: string };

const toDelivery = (r: DeliveryRow): Delivery => ({
  id: r.id,
  notificationId: Number(r.notificationId),
  eventId: r.eventId,
  eventType: r.eventType as NotificationType,
  channel: r.channel as DeliveryChannel,
  targetId: r.targetId,
  target: r.target,
  status: r.status as DeliveryStatus,
  attempts: r.attempts,
  nextAttemptAt: Number(r.nextAttemptAt),
  giveUpAt: Number(r.giveUpAt),
  createdAt: Number(r.createdAt),
  deliveredAt: r.deliveredAt === null ? null : Number(r.deliveredAt),
  lastError: r.lastError,
});

const toAttempt = (r: Selectable<DeliveryAttemptsTable>): DeliveryAttempt => ({ ...r, at: Number(r.at), ok: bool(r.ok) });

export interface NewDelivery {
  notificationId: number;
  channel: DeliveryChannel;
  targetId: number | null;
  target: string;
  nextAttemptAt: number;
  giveUpAt: number;
}

/** How one attempt went, and where its delivery goes next. */
export interface AttemptRecord {
  attempt: Omit<DeliveryAttempt, 'id' | 'deliveryId'>;
  status: Exclude<DeliveryStatus, 'QUEUED'>;
  nextAttemptAt?: number;
}

export class NotificationRepository {
  /** Notifications written through this repository (Store.transaction tells listeners after commit). */
  written = 0;

  constructor(
    private db: Db,
    private dialect: Dialect,
  ) {}

  /** Writes a notification with a new, stable event id. */
  async add(n: NewNotification, now: number): Promise<Notification> {
    const r = await this.db
      .insertInto('notifications')
      .values({ eventId: randomUUID(), type: n.type, data: JSON.stringify(n.data ?? null), createdAt: now })
      .returningAll()
      .executeTakeFirstOrThrow();
    this.written++;
    return toNotification(r);
  }

  async get(id: number): Promise<Notification | undefined> {
    const r = await this.db.selectFrom('notifications').selectAll().where('id', '=', id).executeTakeFirst();
    return r && toNotification(r);
  }

  /**
   * The oldest notifications not yet fanned out. On PostgreSQL they are locked for the rest of
   * the transaction and rows another dispatcher holds are skipped, so each is fanned out once.
   */
  async undispatched(limit: number): Promise<Notification[]> {
    let q = this.db.selectFrom('notifications').selectAll().where('dispatchedAt', 'is', null).orderBy('id').limit(limit);
    if (this.dialect === 'postgres') q = q.forUpdate().skipLocked();
    return (await q.execute()).map(toNotification);
  }

  async markDispatched(ids: number[], now: number): Promise<void> {
    if (ids.length) await this.db.updateTable('notifications').set({ dispatchedAt: now }).where('id', 'in', ids).execute();
  }

  async addDeliveries(rows: NewDelivery[], now: number): Promise<void> {
    if (!rows.length) return;
    await this.db.insertInto('deliveries').values(rows.map((d) => ({ ...d, status: 'PENDING', createdAt: now }))).execute();
  }

  private deliveries() {
    return this.db
      .selectFrom('deliveries')
      .innerJoin('notifications', 'notifications.id', 'deliveries.notificationId')
      .selectAll('deliveries')
      .select(['notifications.eventId as eventId', 'notifications.type as eventType']);
  }

  async delivery(id: number): Promise<Delivery | undefined> {
    const r = await this.deliveries().where('deliveries.id', '=', id).executeTakeFirst();
    return r && toDelivery(r as DeliveryRow);
  }

  /**
   * What the dispatcher's pass has to do, in one statement (it runs every second in every
   * process, mostly to find nothing): whether any notification waits to be fanned out, whether
   * any delivery is QUEUED (it may be stranded), and when the next PENDING delivery falls due
   * (null: none waits). Each part reads an index.
   */
  async outlook(): Promise<{ undispatched: boolean; queued: boolean; nextDue: number | null }> {
    const r = await this.db.selectNoFrom((eb) => [
      eb.exists(eb.selectFrom('notifications').select('id').where('dispatchedAt', 'is', null)).as('undispatched'),
      eb.exists(eb.selectFrom('deliveries').select('id').where('status', '=', 'QUEUED')).as('queued'),
      eb.selectFrom('deliveries').select(sql<number>`min(next_attempt_at)`.as('t')).where('status', '=', 'PENDING').as('nextDue'),
    ]).executeTakeFirstOrThrow();
    return { undispatched: Boolean(Number(r.undispatched)), queued: Boolean(Number(r.queued)), nextDue: r.nextDue === null || r.nextDue === undefined ? null : Number(r.nextDue) };
  }

  /**
   * Moves up to `limit` due deliveries PENDING → QUEUED and returns those this call moved: a
   * compare-and-set per row, so two planners at once never both take one.
   */
  async queueDue(now: number, limit: number): Promise<Delivery[]> {
    const due = await this.db.selectFrom('deliveries').select('id').where('status', '=', 'PENDING').where('nextAttemptAt', '<=', now)
      .orderBy('nextAttemptAt').orderBy('id').limit(limit).execute();
    if (!due.length) return [];
    const moved = await this.db.updateTable('deliveries').set({ status: 'QUEUED' })
      .where('id', 'in', due.map((d) => d.id)).where('status', '=', 'PENDING').returning('id').execute();
    if (!moved.length) return [];
    const rows = await this.deliveries().where('deliveries.id', 'in', moved.map((m) => m.id)).orderBy('deliveries.id').execute();
    return rows.map((r) => toDelivery(r as DeliveryRow));
  }

  /** Records one attempt and moves the delivery on (only from QUEUED: a task run twice records once). */
  async recordAttempt(deliveryId: number, a: AttemptRecord): Promise<boolean> {
    const moved = await this.db.updateTable('deliveries')
      .set((eb) => ({
        status: a.status,
        attempts: eb('attempts', '+', 1),
        lastError: a.attempt.ok ? null : a.attempt.error,
        ...(a.status === 'DELIVERED' ? { deliveredAt: a.attempt.at } : {}),
        ...(a.nextAttemptAt !== undefined ? { nextAttemptAt: a.nextAttemptAt } : {}),
      }))
      .where('id', '=', deliveryId).where('status', '=', 'QUEUED')
      .executeTakeFirst();
    if (Number(moved.numUpdatedRows) !== 1) return false;
    await this.db.insertInto('deliveryAttempts').values({ ...a.attempt, deliveryId, ok: a.attempt.ok ? 1 : 0 }).execute();
    return true;
  }

  /** A QUEUED delivery whose task ended without trying (cancelled): PENDING again, due at `at`. */
  async requeue(deliveryId: number, at: number): Promise<void> {
    await this.db.updateTable('deliveries').set({ status: 'PENDING', nextAttemptAt: at }).where('id', '=', deliveryId).where('status', '=', 'QUEUED').execute();
  }

  /**
   * QUEUED deliveries whose task ended without recording an attempt (cancelled, given up after
   * its processes died), for the dispatcher to make due again. The deliveries are read before the
   * tasks: one QUEUED then had its live task then (they commit together), so a task not live now
   * has ended; if it recorded its attempt meanwhile, requeue's compare-and-set does nothing.
   */
  async stranded(limit: number): Promise<number[]> {
    const queued = await this.db.selectFrom('deliveries').select('id').where('status', '=', 'QUEUED').orderBy('id').limit(limit).execute();
    if (!queued.length) return [];
    const live = await this.db.selectFrom('tasks').select('targetId')
      .where('status', 'in', ['PENDING', 'RUNNING']).where('targetKind', '=', 'delivery').execute();
    const busy = new Set(live.map((t) => Number(t.targetId)));
    return queued.map((d) => d.id).filter((id) => !busy.has(id));
  }

  /** Sends a DELIVERED or FAILED delivery again (by hand): PENDING now, with `giveUpAt` moved on. */
  async resend(deliveryId: number, now: number, giveUpAt: number): Promise<Delivery | undefined> {
    await this.db.updateTable('deliveries').set({ status: 'PENDING', nextAttemptAt: now, giveUpAt })
      .where('id', '=', deliveryId).where('status', 'in', ['DELIVERED', 'FAILED']).execute();
    return this.delivery(deliveryId);
  }

  /** Deliveries, newest first by default; filter on channel, targetId, status, eventType. */
  listDeliveries(q: ListQuery): Promise<ListResult<Delivery>> {
    // As a subquery: listPage selects every column, and the join's own ids and types would clash.
    return listPage(this.db.selectFrom(this.deliveries().as('d')), q, 'd.id', (r: DeliveryRow) => toDelivery(r));
  }

  /**
   * Removes up to `limit` notifications written before `cutoff` that are done with: fanned out,
   * and none of their deliveries still waiting or queued. Their deliveries and attempts go with
   * them (ON DELETE CASCADE); the attempts are added to delivery_attempt_tallies first, so the
   * attempts counter keeps them. Run it in a transaction. Returns how many were removed.
   */
  async pruneBefore(cutoff: number, limit: number): Promise<number> {
    const ids = (await this.db.selectFrom('notifications').select('id')
      .where('createdAt', '<', cutoff).where('dispatchedAt', 'is not', null)
      .where(({ not, exists, selectFrom }) => not(exists(selectFrom('deliveries').select('deliveries.id')
        .whereRef('deliveries.notificationId', '=', 'notifications.id').where('deliveries.status', 'in', ['PENDING', 'QUEUED']))))
      .orderBy('id').limit(limit).execute()).map((r) => Number(r.id));
    if (!ids.length) return 0;
    const tallies = await this.db.selectFrom('deliveryAttempts')
      .innerJoin('deliveries', 'deliveries.id', 'deliveryAttempts.deliveryId')
      .select(['deliveries.channel as channel', 'deliveryAttempts.ok as ok', (eb) => eb.fn.countAll<number>().as('n')])
      .where('deliveries.notificationId', 'in', ids)
      .groupBy(['deliveries.channel', 'deliveryAttempts.ok'])
      .execute();
    for (const t of tallies) {
      await this.db.insertInto('deliveryAttemptTallies')
        .values({ channel: t.channel, ok: Number(t.ok) ? 1 : 0, n: Number(t.n) })
        .onConflict((oc) => oc.columns(['channel', 'ok']).doUpdateSet((eb) => ({ n: eb('deliveryAttemptTallies.n', '+', eb.ref('excluded.n')) })))
        .execute();
    }
    const r = await this.db.deleteFrom('notifications').where('id', 'in', ids).executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  async attempts(deliveryId: number): Promise<DeliveryAttempt[]> {
    const rows = await this.db.selectFrom('deliveryAttempts').selectAll().where('deliveryId', '=', deliveryId).orderBy('id').execute();
    return rows.map(toAttempt);
  }

  /** Deliveries by channel and status (for /metrics). */
  async tally(): Promise<{ channel: string; status: string; n: number }[]> {
    const rows = await this.db.selectFrom('deliveries').select(['channel', 'status', sql<number>`count(*)`.as('n')]).groupBy(['channel', 'status']).execute();
    return rows.map((r) => ({ channel: r.channel, status: r.status, n: Number(r.n) }));
  }
}
