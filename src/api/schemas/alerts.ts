/**
 * Alerts: SPP's `GET /api/endeavour/alert/message` (spec §11.2: array `alerts`, each with
 * `message`, `type`, `acknowledged`, `last`) with Census's fields beside SPP's, and the alert
 * settings (`/api/census/alert/settings`, a Census addition). docs/alerts.md says what raises each kind.
 */
import { Type, type Static } from '@sinclair/typebox';
import { ALERT_KINDS, ALERT_STATUSES } from '../../core/alerts.ts';
import { arrayOf, boolean, BooleanLike, collection, epochMs, integer, IntegerLike, linksOf, numericId, object, oneOf, orNull, str } from './common.ts';

const AlertObject = object({
  type: str('What it is: `appserver`, `job`, `jobsession`, `database`, `keyspace`, `instance`, `webhook`, `email`, …'),
  id: Type.Union([Type.String(), Type.Integer()], { description: 'Its id (a number, or a name path such as `main/sales` for a database).' }),
  name: str('Its name.'),
}, 'An object the alert is about.');

export const Alert = object({
  links: linksOf('`self`, `up`, `acknowledge` (POST `?action=acknowledge`, while ACTIVE), and `jobsession` when a session is concerned.'),
  id: numericId('Alert id'),
  message: str('What happened, for a person: names the job, session, servers and reasons.'),
  type: oneOf(['ERROR', 'WARN', 'INFO'], "SPP's severity."),
  acknowledged: boolean('Someone acknowledged it (status ACKNOWLEDGED; a cleared alert keeps whether it was).'),
  first: epochMs('When it was raised'),
  last: epochMs('When it was last raised again (its count went up), or raised'),
  count: integer('How often it was raised while open.'),
  status: oneOf(ALERT_STATUSES, 'ACTIVE (needs someone), ACKNOWLEDGED (seen; still open) or CLEARED (its condition went away).'),
  kind: oneOf(ALERT_KINDS, 'What raised it (docs/alerts.md).'),
  key: str('What it is about, e.g. `job:1004`, `appserver:1003`: at most one open alert per key.'),
  objects: arrayOf(AlertObject, 'The objects concerned: the job, the session, the servers, the database, …'),
  jobId: orNull(numericId('The job concerned')),
  jobsessionId: orNull(integer('The session concerned (a number, as in job log entries).')),
  acknowledgedBy: orNull(str('Who acknowledged it.')),
  acknowledgedAt: orNull(epochMs('When it was acknowledged')),
  clearedAt: orNull(epochMs('When it cleared')),
}, 'An alert Census raised itself.');
Alert.$id = 'Alert';
export type AlertWire = Static<typeof Alert>;

export const AlertList = collection('alerts', Alert, 'Alerts, newest `last` first unless sorted otherwise.');
AlertList.$id = 'AlertList';

const Watch = object({
  databaseRemoved: boolean('A database (or Redis keyspace) that an inventory no longer finds raises inventory.database-removed.'),
  versionChanged: boolean("A change of an instance's version raises inventory.version-changed."),
  findings: boolean('A readiness finding raises inventory.finding.'),
});

export const AlertSettings = object({
  stalledAfterMs: integer('A running session with no progress for this long raises session.stalled (ms).'),
  failingRuns: integer('A server that failed this many inventories in a row raises server.failing.'),
  missedGraceMs: integer('A scheduled run not started this long after its time counts as missed (ms).'),
  watch: Watch,
}, 'What raises alerts (GET/PUT /api/census/alert/settings).');
AlertSettings.$id = 'AlertSettings';
export type AlertSettingsWire = Static<typeof AlertSettings>;

// ---- request bodies --------------------------------------------------------------------------

const range = (min: number, max: number, description: string) =>
  Type.Optional(IntegerLike({ minimum: min, maximum: max, description: `${description} ${min} to ${max}.`, errorMessage: `must be a whole number from ${min} to ${max}` }));

/** Bounds as services/alerts.ts ALERT_SETTING_LIMITS (the service checks them again for other callers). */
export const AlertSettingsBody = Type.Object({
  stalledAfterMs: range(60_000, 7 * 24 * 3_600_000, 'Milliseconds,'),
  failingRuns: range(1, 100, 'Runs,'),
  missedGraceMs: range(60_000, 24 * 3_600_000, 'Milliseconds,'),
  watch: Type.Optional(Type.Object({
    databaseRemoved: Type.Optional(BooleanLike()),
    versionChanged: Type.Optional(BooleanLike()),
    findings: Type.Optional(BooleanLike()),
  }, { description: 'The switches to change; those left out stay.', 'x-error': 'must be an object of true/false switches' })),
}, { description: 'The settings to change; those left out stay as they are.' });
