/**
 * Alerts (docs/alerts.md): conditions Census raises itself and keeps until they go away. An alert
 * has a key (what it is about: "job:1004", "appserver:1003"); at most one alert per key is open
 * (ACTIVE or ACKNOWLEDGED) at a time, so raising it again while open only counts and moves its
 * `lastAt`. Clearing closes it (CLEARED); the next raise opens a new one. Pure: the store keeps
 * the rows, the engine and the services raise and clear them.
 */

export const ALERT_KINDS = [
  /** A job session ended FAILED or PARTIAL (key job:<id>; cleared by the job's next COMPLETED session). */
  'session.failed',
  /** A scheduled run did not happen at its time (key schedule:<jobId>; cleared when the job next runs). */
  'schedule.missed',
  /** A running session made no progress for longer than the set time (key session:<id>; cleared when it moves or ends). */
  'session.stalled',
  /** A server failed its last N inventories (key appserver:<id>; cleared by its next successful inventory). */
  'server.failing',
  /** A watched database disappeared (key database:<appserverId>:<instance>/<name>; cleared when it is back). */
  'inventory.database-removed',
  /** A watched server's version changed (key version:<appserverId>:<instance>; stays until acknowledged). */
  'inventory.version-changed',
  /** A readiness finding appeared (key finding:<appserverId>:<code>:<object>; cleared when the finding is gone). */
  'inventory.finding',
  /** Notifications to one receiver were given up (key delivery:<channel>:<targetId>; cleared by its next success). */
  'delivery.failed',
] as const;
export type AlertKind = (typeof ALERT_KINDS)[number];

export const ALERT_STATUSES = ['ACTIVE', 'ACKNOWLEDGED', 'CLEARED'] as const;
export type AlertStatus = (typeof ALERT_STATUSES)[number];

/** SPP's alert `type`. */
export type AlertSeverity = 'ERROR' | 'WARN' | 'INFO';

/** An object an alert is about: an application server, a job, a session, a database, a webhook … */
export interface AlertObject {
  type: string;
  id: string | number;
  name: string;
}

export interface Alert {
  id: number;
  kind: AlertKind;
  key: string;
  status: AlertStatus;
  severity: AlertSeverity;
  message: string;
  objects: AlertObject[];
  jobId: number | null;
  sessionId: number | null;
  firstAt: number;
  lastAt: number;
  /** Times raised while open. */
  count: number;
  acknowledgedBy: string | null;
  acknowledgedAt: number | null;
  clearedAt: number | null;
}

/** What raising an alert says; the store opens one or counts the open one under its key. */
export interface RaiseAlert {
  kind: AlertKind;
  key: string;
  severity: AlertSeverity;
  message: string;
  objects: AlertObject[];
  jobId?: number | null;
  sessionId?: number | null;
}

/** What a user sets about alerts (GET/PUT /api/census/alert/settings). */
export interface AlertSettings {
  /** A running session with no progress for this long is stalled (ms). */
  stalledAfterMs: number;
  /** A server that failed this many inventories in a row is failing. */
  failingRuns: number;
  /** A scheduled run not started this long after its time counts as missed (ms). */
  missedGraceMs: number;
  /** Inventory changes that raise alerts. */
  watch: { databaseRemoved: boolean; versionChanged: boolean; findings: boolean };
}

export const DEFAULT_ALERT_SETTINGS: AlertSettings = {
  stalledAfterMs: 30 * 60_000,
  failingRuns: 3,
  missedGraceMs: 5 * 60_000,
  watch: { databaseRemoved: true, versionChanged: true, findings: false },
};
