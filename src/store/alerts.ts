/**
 * Alerts (core/alerts.ts): one open alert per key, enforced by the unique index on `open_key`,
 * so two processes raising the same condition at once count one alert instead of failing. Opening
 * and clearing write their notification (alert.raised, alert.cleared) in the same transaction.
 */
import { sql, type Selectable } from 'kysely';
import type { Alert, AlertKind, AlertObject, AlertSeverity, AlertStatus, RaiseAlert } from '../core/alerts.ts';
import type { ListQuery, ListResult } from '../core/query.ts';
import type { Dialect } from './migrations.ts';
import type { NotificationRepository } from './notifications.ts';
import { fixedQuery, json, jsonList, listPage, type Db } from './rows.ts';
import type { AlertsTable } from './schema.ts';

/** Open alerts of one kind under one key prefix, but for the keys in `except` (AlertRepository.clearAll). */
export interface AlertsUnderPrefix {
  kind: AlertKind;
  keyPrefix: string;
  except: readonly string[];
}

export const toAlert = (r: Selectable<AlertsTable>): Alert => ({
  id: r.id,
  kind: r.kind as AlertKind,
  key: r.alertKey,
  status: r.status as AlertStatus,
  severity: r.severity as AlertSeverity,
  message: r.message,
  objects: json<AlertObject[]>(r.objects, []),
  jobId: r.jobId,
  sessionId: r.sessionId === null ? null : Number(r.sessionId),
  firstAt: Number(r.firstAt),
  lastAt: Number(r.lastAt),
  count: r.count,
  acknowledgedBy: r.acknowledgedBy,
  acknowledgedAt: r.acknowledgedAt === null ? null : Number(r.acknowledgedAt),
  clearedAt: r.clearedAt === null ? null : Number(r.clearedAt),
});

/**
 * The keys that start with `prefix`. SQLite compares text bytewise, so a prefix is a range of the
 * open_key index (up to the prefix with its last character's successor). PostgreSQL's collation
 * may ignore punctuation, which makes no such range exact: there LIKE decides (the prefixes are
 * built from ids and fixed words, with no wildcard to escape).
 */
function prefixRange(prefix: string): { from: string; below: string } {
  return { from: prefix, below: prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1) };
}

/** The UPDATE that closes alerts; the caller says which. */
const clearing = (db: Db, now: number) => db.updateTable('alerts').set({ status: 'CLEARED', openKey: null, clearedAt: now });

// AlertRepository.clearAll's statements: the keys, and with them one kind's keys under a prefix
// but for some (a range on SQLite, LIKE on PostgreSQL: prefixRange says why).
const CLEAR_KEYS = fixedQuery((db, now: number, keys: string) => clearing(db, now)
  .where('openKey', 'in', jsonList(db, keys)).returningAll());
const CLEAR_KEYS_AND_RANGE = fixedQuery((db, now: number, keys: string, kind: string, from: string, below: string, except: string) => clearing(db, now)
  .where((eb) => eb.or([
    eb('openKey', 'in', jsonList(db, keys)),
    eb.and([eb('kind', '=', kind), eb('openKey', '>=', from), eb('openKey', '<', below), eb('openKey', 'not in', jsonList(db, except))]),
  ])).returningAll());
const CLEAR_KEYS_AND_LIKE = fixedQuery((db, now: number, keys: string, kind: string, like: string, except: string) => clearing(db, now)
  .where((eb) => eb.or([
    eb('openKey', 'in', jsonList(db, keys)),
    eb.and([eb('kind', '=', kind), eb('openKey', 'like', like), eb('openKey', 'not in', jsonList(db, except))]),
  ])).returningAll());

export class AlertRepository {
  constructor(
    private db: Db,
    private notifications: NotificationRepository,
    private dialect: Dialect,
  ) {}

  /**
   * Opens the alert under `a.key`, or counts the open one (its message, objects and session are
   * the newest). `opened` says which; only an opening is notified.
   */
  async raise(a: RaiseAlert, now: number): Promise<{ alert: Alert; opened: boolean }> {
    const values = {
      kind: a.kind, alertKey: a.key, openKey: a.key, status: 'ACTIVE', severity: a.severity, message: a.message,
      objects: JSON.stringify(a.objects), jobId: a.jobId ?? null, sessionId: a.sessionId ?? null, firstAt: now, lastAt: now,
    };
    const r = await this.db
      .insertInto('alerts')
      .values(values)
      .onConflict((oc) => oc.column('openKey').doUpdateSet((eb) => ({
        lastAt: now, message: a.message, objects: values.objects, severity: a.severity,
        sessionId: a.sessionId ?? eb.ref('alerts.sessionId'), count: eb('alerts.count', '+', 1),
      })))
      .returningAll()
      .executeTakeFirstOrThrow();
    const alert = toAlert(r);
    const opened = alert.count === 1 && alert.firstAt === now;
    if (opened) await this.notifications.add({ type: 'alert.raised', data: { alert } }, now);
    return { alert, opened };
  }

  /** Clears the open alert under `key`, if there is one. */
  async clear(key: string, now: number): Promise<Alert | undefined> {
    return (await this.clearAll([key], now))[0];
  }

  /**
   * Clears the open alerts under any of `keys` and, with `alsoOf`, those of one kind under one
   * key prefix but for the keys it excepts: in one statement (an inventory's commit clears all
   * it clears so). Each clearing is notified.
   */
  async clearAll(keys: readonly string[], now: number, alsoOf?: AlertsUnderPrefix): Promise<Alert[]> {
    // The key lists go as one JSON parameter each, whatever their length (a server's first
    // inventory can name tens of thousands of databases), so the statement has one shape: every
    // inventory's commit runs it, and it is built once (fixedQuery).
    const listed = JSON.stringify(keys);
    let q;
    if (!alsoOf) q = CLEAR_KEYS(this.db, now, listed);
    else if (this.dialect === 'sqlite') {
      const { from, below } = prefixRange(alsoOf.keyPrefix);
      q = CLEAR_KEYS_AND_RANGE(this.db, now, listed, alsoOf.kind, from, below, JSON.stringify(alsoOf.except));
    } else q = CLEAR_KEYS_AND_LIKE(this.db, now, listed, alsoOf.kind, `${alsoOf.keyPrefix}%`, JSON.stringify(alsoOf.except));
    return this.notifyCleared((await this.db.executeQuery(q)).rows, now);
  }

  /**
   * Clears every open alert about one server (it was unregistered): its failing runs and its
   * watched inventory changes. Each clearing is notified, as any other.
   */
  async clearServer(appserverId: number, now: number): Promise<Alert[]> {
    const id = String(appserverId);
    const rows = await clearing(this.db, now)
      .where((eb) => eb.or([
        eb('openKey', '=', `appserver:${id}`),
        ...['database', 'version', 'finding'].map((k) => eb('openKey', 'like', `${k}:${id}:%`)),
      ]))
      .returningAll()
      .execute();
    return this.notifyCleared(rows, now);
  }


  /** The cleared alerts, oldest first, each with its alert.cleared notification written. */
  private async notifyCleared(rows: Selectable<AlertsTable>[], now: number): Promise<Alert[]> {
    const cleared = rows.map(toAlert).sort((a, b) => a.id - b.id);
    for (const alert of cleared) await this.notifications.add({ type: 'alert.cleared', data: { alert } }, now);
    return cleared;
  }

  /** The open alert under `key`. */
  async open(key: string): Promise<Alert | undefined> {
    const r = await this.db.selectFrom('alerts').selectAll().where('openKey', '=', key).executeTakeFirst();
    return r && toAlert(r);
  }

  /** Open alerts of one kind (the watchdog's candidates for clearing). */
  async openOfKind(kind: AlertKind): Promise<Alert[]> {
    const rows = await this.db.selectFrom('alerts').selectAll().where('kind', '=', kind).where('openKey', 'is not', null).execute();
    return rows.map(toAlert);
  }


  async get(id: number): Promise<Alert | undefined> {
    const r = await this.db.selectFrom('alerts').selectAll().where('id', '=', id).executeTakeFirst();
    return r && toAlert(r);
  }

  list(q: ListQuery): Promise<ListResult<Alert>> {
    return listPage(this.db.selectFrom('alerts'), q, 'id', toAlert);
  }

  /** ACTIVE → ACKNOWLEDGED; undefined when the alert is not ACTIVE (or does not exist). */
  async acknowledge(id: number, by: string, now: number): Promise<Alert | undefined> {
    const r = await this.db
      .updateTable('alerts')
      .set({ status: 'ACKNOWLEDGED', acknowledgedBy: by, acknowledgedAt: now })
      .where('id', '=', id)
      .where('status', '=', 'ACTIVE')
      .returningAll()
      .executeTakeFirst();
    return r && toAlert(r);
  }

  /** Removes the alerts cleared before `cutoff` (maintenance); open and acknowledged ones stay. */
  async deleteClearedBefore(cutoff: number): Promise<number> {
    const r = await this.db.deleteFrom('alerts').where('status', '=', 'CLEARED').where('clearedAt', '<', cutoff).executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  /** How many alerts there are of each kind and status (for /metrics). */
  async tally(): Promise<{ kind: string; status: string; n: number }[]> {
    const rows = await this.db
      .selectFrom('alerts')
      .select(['kind', 'status', sql<number>`count(*)`.as('n')])
      .groupBy(['kind', 'status'])
      .execute();
    return rows.map((r) => ({ kind: r.kind, status: r.status, n: Number(r.n) }));
  }
}
