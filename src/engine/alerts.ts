/**
 * The rules that raise and clear alerts (docs/alerts.md), and the notifications of a session's end
 * and of an inventory's changes. Each rule runs inside the transaction of the change that causes it
 * (the session's close, the task's end, the inventory's commit), so the alert, its alert.raised or
 * alert.cleared notification and the change commit together or not at all. The one rule that has
 * no change to ride on, a session that stopped moving, is a watchdog every process runs.
 *
 * Loop guard: sessions of the delivery job (which delivers these very notifications) write no
 * session.ended notification and raise no session alert, or a failing receiver would feed itself.
 */
import { DEFAULT_ALERT_SETTINGS, type AlertObject, type AlertSettings } from '../core/alerts.ts';
import type { Change } from '../core/inventory-diff.ts';
import type { InventoryChangedData, SessionEndedData } from '../core/notifications.ts';
import type { SessionState, Task } from '../core/types.ts';
import type { Repositories } from '../store/index.ts';
import type { EngineContext } from './context.ts';
import { DELIVERY_SERVICE } from './system-jobs.ts';

/** The target kind of the inventory jobs' tasks (jobtypes/server-inventory.ts APPSERVER_TARGET; both jobs). */
const SERVER_TARGET = 'appserver';
/** Servers named in one alert or notification, at most: a failed run of 5,000 servers is summed up, not listed. */
const MAX_LISTED = 100;
/** Child objects whose disappearance is a "database removed" (file systems and VMs are not databases). */
const DATABASE_TYPES = new Set(['database', 'keyspace']);

/** The alert settings as stored ("alerts"), over the defaults, so a setting added later has its value. */
export async function alertSettings(r: Pick<Repositories, 'settings'>): Promise<AlertSettings> {
  const stored = await r.settings.get<Partial<AlertSettings> | null>('alerts', null);
  return mergeAlertSettings(stored);
}

/** Where a session's tasks keep the alert settings they read (SessionShares' map). */
const SESSION_ALERT_SETTINGS = 'census.alertSettings';

/**
 * The alert settings as a session's tasks use them: read by its first task that needs them in
 * this process and kept in `shared`, what the session's tasks share (a change applies from the
 * next session; a 1,000-server session read them a thousand times). Without `shared`, read now.
 */
async function sessionAlertSettings(r: Pick<Repositories, 'settings'>, shared: Map<string, unknown> | undefined): Promise<AlertSettings> {
  const kept = shared?.get(SESSION_ALERT_SETTINGS) as AlertSettings | undefined;
  if (kept) return kept;
  const read = await alertSettings(r);
  shared?.set(SESSION_ALERT_SETTINGS, read);
  return read;
}

export function mergeAlertSettings(stored: Partial<AlertSettings> | null | undefined): AlertSettings {
  const s = stored && typeof stored === 'object' ? stored : {};
  return { ...DEFAULT_ALERT_SETTINGS, ...s, watch: { ...DEFAULT_ALERT_SETTINGS.watch, ...(s.watch ?? {}) } };
}

const isDelivery = (s: Pick<SessionState, 'serviceId'>) => s.serviceId === DELIVERY_SERVICE;
const jobObject = (s: SessionState): AlertObject => ({ type: 'job', id: s.jobId, name: s.jobName });
const sessionObject = (s: SessionState): AlertObject => ({ type: 'jobsession', id: s.id, name: `${s.jobName} ${s.id}` });
/** The key of a server's failing alert. */
const serverKey = (id: number | string) => `appserver:${id}`;
const serverObject = (t: Task): AlertObject => ({ type: t.targetKind, id: t.appserverId ?? t.targetId ?? t.id, name: t.name });

/**
 * At a session's close, inside its closing transaction: the session.ended notification, the job's
 * session.failed alert raised (FAILED, PARTIAL) or cleared (COMPLETED), and its stalled alert cleared.
 */
export async function onSessionClosed(r: Repositories, s: SessionState, now: number): Promise<void> {
  if (isDelivery(s)) return;
  const tasks = await r.tasks.bySession(s.id);
  const notDone = tasks.filter((t) => t.status === 'FAILED' || t.status === 'CANCELLED');
  const count = (status: string) => tasks.filter((t) => t.status === status).length;
  const data: SessionEndedData = {
    session: { id: s.id, jobId: s.jobId, jobName: s.jobName, status: s.status, start: s.start, end: s.end, trigger: s.trigger },
    failed: notDone.slice(0, MAX_LISTED).map((t) => ({ name: t.name, reason: t.message ?? t.errorCode })),
    tasks: { total: tasks.length, completed: count('COMPLETED'), failed: count('FAILED'), cancelled: count('CANCELLED') },
  };
  await r.notifications.add({ type: 'session.ended', data }, now);

  const key = `job:${s.jobId}`;
  if (s.status === 'FAILED' || s.status === 'PARTIAL') {
    const failed = notDone.filter((t) => t.status === 'FAILED');
    const names = failed.slice(0, 5).map((t) => (t.message ? `${t.name} (${t.message})` : t.name)).join('; ');
    const more = failed.length > 5 ? `; and ${failed.length - 5} more` : '';
    const message = failed.length
      ? `${s.jobName} session ${s.id} ended ${s.status}: ${failed.length} of ${tasks.length} tasks failed: ${names}${more}.`
      : `${s.jobName} session ${s.id} ended ${s.status}.`;
    await r.alerts.raise({
      kind: 'session.failed', key, severity: s.status === 'FAILED' ? 'ERROR' : 'WARN', message,
      objects: [jobObject(s), sessionObject(s), ...failed.slice(0, MAX_LISTED).map(serverObject)],
      jobId: s.jobId, sessionId: s.id,
    }, now);
  } else if (s.status === 'COMPLETED') {
    await r.alerts.clear(key, now);
  }
  await r.alerts.clear(`session:${s.id}`, now);
}

/**
 * At a task's end, inside the transaction that records it (`task` says how it ended; its row is
 * written at the transaction's end): a server that failed its last N inventories in a row is
 * failing. One that completed is not: onInventoryRecorded clears that alert, with the others its
 * inventory clears.
 */
export async function onTaskEnded(r: Repositories, s: SessionState, task: Task, now: number): Promise<void> {
  if (isDelivery(s) || task.targetKind !== SERVER_TARGET || task.targetId === null || task.status !== 'FAILED') return;
  const key = serverKey(task.targetId);
  const { failingRuns } = await alertSettings(r);
  const n = Math.max(1, failingRuns);
  // This task's row is written at its transaction's end: its outcome, then the n - 1 before it.
  const before = n > 1 ? await r.tasks.lastOutcomes(SERVER_TARGET, task.targetId, n - 1, task.id) : [];
  const last = [task.status, ...before];
  if (last.length < n || last.some((status) => status !== 'FAILED')) return;
  await r.alerts.raise({
    kind: 'server.failing', key, severity: 'ERROR',
    message: `${task.name} failed its last ${n} inventor${n === 1 ? 'y' : 'ies'}${task.message ? `; the last one: ${task.message}` : ''}.`,
    objects: [serverObject(task), jobObject(s), sessionObject(s)], jobId: s.jobId, sessionId: s.id,
  }, now);
}

/** One server's inventory as it is committed: what it is, what it found, what changed. */
export interface RecordedInventory {
  appserver: { id: number; name: string; type: string };
  session: SessionState;
  changes: Change[];
  /** Readiness findings reported now, by instance (a finding on a database names it). */
  findings: { instance: string; code: string; message: string; database?: string | undefined }[];
  now: number;
  /** What the session's tasks share (jobtypes/inventory-task.ts SessionShares): the alert settings are kept there. */
  shared?: Map<string, unknown> | undefined;
}

/**
 * At an inventory's commit, inside its transaction: the inventory.changed notification, and the
 * alerts of the changes an admin watches (settings.watch). Clearing does not depend on the watch:
 * a database that is back clears its alert whether or not its removal is still watched.
 */
export async function onInventoryRecorded(r: Repositories, inv: RecordedInventory): Promise<void> {
  const { appserver, session, changes, now } = inv;
  if (changes.length) {
    // A first inventory of a big server "appears" every object: the notification lists the first
    // MAX_LISTED changes and says how many there were (the session's change history has them all).
    const data: InventoryChangedData = {
      appserver, sessionId: session.id, total: changes.length,
      changes: changes.slice(0, MAX_LISTED).map((c) => ({
        objectType: c.objectType, objectName: c.objectName, parentName: c.parentName, change: c.change,
        field: c.field, oldValue: c.oldValue, newValue: c.newValue,
      })),
    };
    await r.notifications.add({ type: 'inventory.changed', data }, now);
  }
  // What is watched matters only to changes and findings; an unchanged server does not read it.
  const { watch } = changes.length || inv.findings.length ? await sessionAlertSettings(r, inv.shared) : DEFAULT_ALERT_SETTINGS;
  const server: AlertObject = { type: 'appserver', id: appserver.id, name: appserver.name };
  const common = { jobId: session.jobId, sessionId: session.id };
  // Cleared together at the end, in one statement: a first inventory "appears" every database.
  const toClear: string[] = [];

  for (const c of changes) {
    if (DATABASE_TYPES.has(c.objectType) && c.parentName !== null) {
      const key = `database:${appserver.id}:${c.parentName}/${c.objectName}`;
      if (c.change === 'disappeared' && watch.databaseRemoved) {
        await r.alerts.raise({
          kind: 'inventory.database-removed', key, severity: 'WARN',
          message: `${c.objectType === 'keyspace' ? 'Keyspace' : 'Database'} ${c.objectName} of ${c.parentName} on ${appserver.name} is gone.`,
          objects: [server, { type: c.objectType, id: `${c.parentName}/${c.objectName}`, name: c.objectName }], ...common,
        }, now);
      } else if (c.change === 'appeared' || c.change === 'reappeared') {
        toClear.push(key);
      }
    }
    if (c.objectType === 'instance' && c.change === 'changed' && c.field === 'version' && watch.versionChanged) {
      const key = `version:${appserver.id}:${c.objectName}`;
      // Stays until someone acknowledges it; a further change after that is news again: the
      // acknowledged alert is closed and a new one opens (docs/alerts.md).
      if ((await r.alerts.open(key))?.status === 'ACKNOWLEDGED') await r.alerts.clear(key, now);
      await r.alerts.raise({
        kind: 'inventory.version-changed', key, severity: 'INFO',
        message: `${c.objectName} on ${appserver.name} changed version: ${c.oldValue ?? 'unknown'} → ${c.newValue ?? 'unknown'}.`,
        objects: [server, { type: 'instance', id: c.objectName, name: c.objectName }], ...common,
      }, now);
    }
  }

  // Findings: each one reported now is raised (when watched); an open one not reported now is gone.
  const prefix = `finding:${appserver.id}:`;
  const reported = new Set<string>();
  for (const f of inv.findings) {
    const object = f.database ? `${f.instance}/${f.database}` : f.instance;
    const key = `${prefix}${f.code}:${object}`;
    reported.add(key);
    if (!watch.findings) continue;
    await r.alerts.raise({
      kind: 'inventory.finding', key, severity: 'WARN', message: `${appserver.name}, ${object}: ${f.message} (${f.code}).`,
      objects: [server, { type: f.database ? 'database' : 'instance', id: object, name: f.database ?? f.instance }], ...common,
    }, now);
  }
  // The server completed an inventory, so it is not failing (onTaskEnded raises that alert). In
  // the one statement too: its open findings not reported now.
  toClear.push(serverKey(appserver.id));
  await r.alerts.clearAll(toClear, now, { kind: 'inventory.finding', keyPrefix: prefix, except: [...reported] });
}

/**
 * The stalled-session watchdog, one pass: a live session (not the delivery job's) whose last
 * move — its start, its last update, any task's start or end — is older than the set time raises
 * session.stalled; one that moved since clears it, and so does one that is no longer live (its
 * close clears it too, this is the backstop). Every process runs it; raising an open alert again
 * only counts, so two processes at once do no harm. Returns the sessions found stalled.
 */
export async function checkStalled(e: Pick<EngineContext, 'store' | 'clock'>): Promise<number[]> {
  const { store, clock } = e;
  const { stalledAfterMs } = await alertSettings(store);
  const live = (await store.sessions.live()).filter((s) => !isDelivery(s));
  const moves = await store.tasks.lastMoves(live.map((s) => s.id));
  const now = clock.now();
  const stalled: number[] = [];
  for (const s of live) {
    const lastMove = Math.max(s.start, s.lastUpdate, moves.get(s.id) ?? 0);
    const key = `session:${s.id}`;
    if (now - lastMove > stalledAfterMs) {
      stalled.push(s.id);
      if (await store.alerts.open(key)) continue; // already raised: a tick is not a new occurrence
      const minutes = Math.round((now - lastMove) / 60_000);
      await store.transaction((r) => r.alerts.raise({
        kind: 'session.stalled', key, severity: 'WARN',
        message: `${s.jobName} session ${s.id} has made no progress for ${minutes} minute${minutes === 1 ? '' : 's'}.`,
        objects: [jobObject(s), sessionObject(s)], jobId: s.jobId, sessionId: s.id,
      }, now));
    } else if (await store.alerts.open(key)) {
      await store.transaction((r) => r.alerts.clear(key, now));
    }
  }
  const liveIds = new Set(live.map((s) => s.id));
  for (const a of await store.alerts.openOfKind('session.stalled')) {
    if (a.sessionId !== null && !liveIds.has(a.sessionId)) await store.transaction((r) => r.alerts.clear(a.key, now));
  }
  return stalled;
}
