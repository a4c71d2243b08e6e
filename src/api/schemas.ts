/**
 * The JSON schemas of the API, one set for three jobs: Fastify validates requests with them,
 * fast-json-stringify serializes responses with them, and @fastify/swagger turns them into the
 * OpenAPI document (src/api/openapi.ts). Shapes every route shares — the SPP error body, links,
 * the collection envelope and every record — are registered once with `app.addSchema` and
 * referenced by id (`ref('Job')`), so they become `components.schemas` in the document.
 *
 * Compatibility rules these schemas keep (docs/compat.md, docs/api.md):
 * - Query strings admit any other parameter (SPP clients send `pageSize` on POSTs, `screenInfo`,
 *   `from`, `embed`, …), and declare their parameters as strings: `filter`, `sort`, `pageSize`
 *   and `pageStartIndex` are parsed by src/core/query.ts, which answers malformed ones with its
 *   own SPP-shaped 400s. A repeated parameter (an array) is accepted too; the last one counts.
 * - Request bodies are checked by the handlers, with the messages clients see today; the schema
 *   a route declares for its body admits any body (and none), and the typed description of the
 *   body goes to the document only (see `requestBody`).
 * - Response serialization keeps only the properties a schema lists: every record here lists
 *   every property its wire function (src/api/wire.ts and the route modules) writes, and maps
 *   with open-ended keys (links, properties, statistics, findings, policySnapshot.spec) admit
 *   additional properties.
 * - Error answers all have SPP's `{id, description}` shape (wrapped under /ngp): a route
 *   serializes them with one `default` schema, and the document lists them status by status
 *   (see `routeSchema`).
 */
import type { FastifyInstance, FastifySchema } from 'fastify';
import { IDENTITY_KINDS, PROTECTION_GROUPS } from '../core/collector-info.ts';
import { LOG_TYPES } from '../core/status.ts';

type Schema = Record<string, unknown>;

// ---- small builders ------------------------------------------------------------------------

const string = (description?: string, extra: Schema = {}): Schema => ({ type: 'string', ...(description ? { description } : {}), ...extra });
const integer = (description?: string): Schema => ({ type: 'integer', ...(description ? { description } : {}) });
const number = (description?: string): Schema => ({ type: 'number', ...(description ? { description } : {}) });
const boolean = (description?: string): Schema => ({ type: 'boolean', ...(description ? { description } : {}) });
/** The same schema, also admitting null. */
const orNull = (s: Schema): Schema => ({ ...s, type: [s.type as string, 'null'] });
/** A property Census always writes as null (SPP fills it for other job types or products). */
const alwaysNull = (description = 'Always null in Census.'): Schema => ({ type: 'null', description });
const arrayOf = (items: Schema, description?: string): Schema => ({ type: 'array', items, ...(description ? { description } : {}) });
/** An object with open-ended keys: serialized whole. */
const openObject = (description?: string, properties: Schema = {}): Schema => ({
  type: 'object', ...(description ? { description } : {}), properties, additionalProperties: true,
});
const object = (properties: Schema, required: string[] = Object.keys(properties), description?: string): Schema => ({
  type: 'object', ...(description ? { description } : {}), required, properties,
});
const epochMs = (description: string): Schema => integer(`${description} (epoch milliseconds).`);
const numericId = (what: string): Schema => string(`${what} (a numeric string).`, { pattern: '^\\d+$' });

/** A reference to a shared schema (inside COMPONENTS, where ComponentId is not known yet). */
const r = (id: string): Schema => ({ $ref: `${id}#` });

const SESSION_STATUSES = ['RUNNING', 'CANCELLING', 'COMPLETED', 'PARTIAL', 'FAILED', 'CANCELLED'];
const JOB_STATUSES = ['IDLE', 'RUNNING', 'HELD'];
const TASK_STATUSES = ['PENDING', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED'];

/** `{links, total, page, <key>: [...]}`, SPP's collection envelope (spec §1.5). */
function collection(key: string, item: string, description: string): Schema {
  return object({
    links: { ...r('Links'), description: '`self` and `up`, `nextPage` and `lastPage` while more records follow, and actions such as `create`.' },
    total: integer('How many records match, on all pages.'),
    page: integer('1-based number of this page: floor(pageStartIndex / pageSize) + 1.'),
    [key]: arrayOf(r(item), `This page's records (an empty array when none match).`),
  }, undefined, description);
}

// ---- the shared components ---------------------------------------------------------------

const lastrunProperties = {
  sessionId: numericId('Id of the session: epoch milliseconds of its creation'),
  jobName: string(),
  type: string(),
  subType: string(),
  serviceId: string(),
  start: epochMs('Start'),
  end: orNull(epochMs('End; null while it runs')),
  duration: integer('Milliseconds from start to end (or to now, while it runs).'),
  status: string('Session status.', { enum: SESSION_STATUSES }),
  results: string('"Started" while it runs, then the final status.'),
  properties: alwaysNull(),
  numTasks: integer('Tasks in the session (one per application server).'),
  previousLastTask: integer('Always 0 in Census.'),
  lastUpdate: epochMs('Last change of the session'),
  percent: number('Share of tasks ended, 0–100.'),
  policySnapshot: alwaysNull(),
};

const COMPONENTS = {
  Error: object({
    id: string('SPP exception name, e.g. `XSBObjectNotFoundException`, `XSBInvalidArgumentException`, `XSBMissingSessionidException`.'),
    description: string('What went wrong, for a person.'),
  }, undefined, "An error in SPP's shape."),

  NgpError: object({
    statusCode: integer('The HTTP status, repeated.'),
    response: r('Error'),
    id: string('SPP exception name (repeated from `response` for readers of the core API).'),
    description: string('What went wrong (repeated from `response`).'),
  }, undefined, 'An error of the NodeJS layer (/ngp): the SPP error wrapped as `{statusCode, response}`, with `id` and `description` on top as well.'),

  Link: object({
    href: string('Absolute URL, built from the scheme and Host of the request.'),
    rel: string('`self`, `up`, `related`, `action`, `next`, `last`, `create`, `update`, `delete`.'),
    title: string('Label of an action link.'),
  }, ['href', 'rel'], 'A HATEOAS link.'),

  Links: {
    type: 'object',
    description: 'Links by name (`self`, `up`, `start`, `pause Schedule`, …); which ones appear depends on the object and its state.',
    additionalProperties: r('Link'),
  },

  Lastrun: object(lastrunProperties, undefined,
    "The job's `lastrun`: its running session while it runs, else the last session that ended."),

  Job: object({
    links: { ...r('Links'), description: 'self, up, edit, status, triggers, stats, jobsessions, livejobsessions, activejobsessions, pendingjobsessions, historicaljobsessions, history, lastrun, lastrunlog; `start` when idle or held, `cancel` while running; `pause Schedule` / `release Schedule` on scheduled jobs.' },
    name: string(),
    description: orNull(string()),
    policyId: numericId('Policy id'),
    policyName: string(),
    type: string('e.g. `catalog` or `maintenance`.'),
    typeDisplayName: string(),
    subType: string('e.g. `application`.'),
    subTypeDisplayName: string(),
    serviceId: string('e.g. `serviceprovider.catalog.application`.'),
    displayName: string(),
    status: string('Job state.', { enum: JOB_STATUSES }),
    statusDisplayName: string(),
    lastSessionStatus: orNull(string('Status of the last session that ended.', { enum: [...SESSION_STATUSES, null] })),
    lastSessionStatusDisplayName: orNull(string()),
    triggerIds: arrayOf(numericId('Trigger id')),
    triggerData: arrayOf(object({ triggerId: numericId('Trigger id'), triggerInfo: alwaysNull() })),
    lastRunTime: orNull(epochMs('Start of the session shown as `lastrun`')),
    nextFireTime: orNull(epochMs('Next scheduled start; null without a trigger')),
    lastSessionDuration: orNull(integer('Duration of the last session that ended, ms.')),
    tenantId: integer('Always 1000.'),
    actions: alwaysNull(),
    statistics: alwaysNull(),
    lastrun: r('Lastrun'),
    id: numericId('Job id'),
  }, ['links', 'name', 'description', 'policyId', 'policyName', 'type', 'typeDisplayName', 'subType', 'subTypeDisplayName', 'serviceId',
    'displayName', 'status', 'statusDisplayName', 'lastSessionStatus', 'lastSessionStatusDisplayName', 'triggerIds', 'triggerData',
    'lastRunTime', 'nextFireTime', 'lastSessionDuration', 'tenantId', 'actions', 'statistics', 'id'],
  'A job (spec §4.1): 1001 Maintenance and 1004 Application Server Inventory.'),

  JobList: collection('jobs', 'Job', 'Jobs.'),

  JobStatus: object({
    currentStatus: string('The job state.', { enum: JOB_STATUSES }),
    lastSessionStatus: orNull(string('Status of the last session that ended.')),
    lastrun: { description: 'As `lastrun` of the job; null if it never ran.', anyOf: [r('Lastrun'), { type: 'null' }] },
    id: numericId('Job id'),
  }, undefined, 'The short status of a job.'),

  Trigger: object({
    links: r('Links'),
    id: numericId('Trigger id'),
    type: string('Always `DAILY`.'),
    time: string('Wall-clock time, HH:MM.'),
    timezone: string('IANA time zone.'),
    held: boolean('The schedule is paused.'),
    nextFireTime: orNull(epochMs('Next start')),
  }, undefined, "A job's daily trigger (a Census extension; docs/scheduling.md)."),

  TriggerList: collection('triggers', 'Trigger', "A job's triggers: none or one."),

  SessionStatistic: {
    ...object({
      resourceType: string('`appserver`, or `instance` / `database` / `filesystem` for change counts.'),
      total: integer(),
      success: integer(),
      failed: integer(),
      skipped: integer('Includes cancelled tasks.'),
      appeared: integer('Objects found for the first time (inventory change counts).'),
      disappeared: integer('Objects no longer found.'),
      changed: integer('Objects whose properties changed.'),
    }, ['resourceType', 'total', 'success', 'failed', 'skipped'], 'Counts of one resource type in a session.'),
    additionalProperties: true,
  },

  JobSession: object({
    links: { ...r('Links'), description: 'self, up, job, tasks, changes, log; `cancel` while it runs.' },
    id: numericId('Session id: epoch milliseconds of its creation'),
    jobId: numericId('Job id'),
    jobName: string(),
    type: string(),
    typeDisplayName: string(),
    subType: string(),
    subTypeDisplayName: string(),
    subPolicyType: alwaysNull(),
    subPolicyTypeDisplayName: alwaysNull(),
    serviceId: string(),
    displayName: string(),
    description: alwaysNull(),
    start: epochMs('Start'),
    end: orNull(epochMs('End; null while it runs')),
    duration: integer('Milliseconds from start to end (or to now, while it runs).'),
    lastUpdate: epochMs('Last change'),
    status: string('RUNNING and CANCELLING while it runs; then how it ended.', { enum: SESSION_STATUSES }),
    statusDisplayName: string(),
    indexStatus: alwaysNull(),
    results: string('"Started" while it runs, then the final status.'),
    properties: openObject('What the run covered and what started it.', {
      statistics: arrayOf(r('SessionStatistic')),
      trigger: string('What started the run: `manual`, `schedule`, `registration`, `appserver` or `first-start`.'),
    }),
    numTasks: integer(),
    previousLastTask: integer('Always 0 in Census.'),
    percent: number('Share of tasks ended, 0–100.'),
    expiresAt: alwaysNull(),
    expirationTime: alwaysNull(),
    retention: alwaysNull(),
    retentionUnit: alwaysNull(),
    expired: boolean(),
    hasCatalog: boolean(),
    hasCondensed: boolean(),
    userUpdate: boolean(),
    rerunnable: boolean(),
    wormProtected: boolean(),
    actions: alwaysNull(),
    statistics: alwaysNull(),
    policySnapshot: object({
      id: numericId('Job id'),
      name: string(),
      type: string(),
      subType: string(),
      serviceId: string(),
      version: alwaysNull(),
      description: alwaysNull(),
      script: alwaysNull(),
      spec: openObject('`source`: the application servers the run covered; `option`: none.', {
        source: arrayOf(openObject('One application server the run covered.', {
          href: string(),
          resourceType: string('Always `appserver`.'),
          name: string(),
          id: numericId('Application server id'),
          include: boolean(),
          metadata: openObject(),
        })),
        option: openObject(),
      }),
    }, undefined, 'The job as it was when the session started.'),
  }, undefined, 'A job session: one run of a job (spec §5.1).'),

  JobSessionList: collection('sessions', 'JobSession', 'Job sessions.'),

  JobSessionStats: object({
    start: orNull(epochMs('Start of the range asked for with rangeunit/range; null without one')),
    end: epochMs('Now'),
    successful: integer('Sessions COMPLETED.'),
    failed: integer('Sessions FAILED.'),
    warning: integer('Sessions PARTIAL.'),
    running: integer('Sessions RUNNING or CANCELLING.'),
    totalRuns: integer(),
    successPercent: integer('successful / totalRuns, rounded, 0–100.'),
    WAITING: integer('Always 0.'),
    RUNNING: integer(),
    CANCELLED: integer(),
    STOPPED: integer('Always 0.'),
    ABORTED: integer('Always 0.'),
    FAILED: integer(),
    PARTIAL: integer(),
    COMPLETED: integer(),
    OTHER: integer('Always 0.'),
  }, undefined, 'Counts of job sessions by status (the SPP dashboard shape, spec §5.3).'),

  Task: object({
    links: r('Links'),
    id: numericId('Task id'),
    name: string('Name of the application server.'),
    appserverId: orNull(numericId('Application server id')),
    status: string(undefined, { enum: TASK_STATUSES }),
    start: orNull(epochMs('Start; null until it runs')),
    end: orNull(epochMs('End; null until it ends')),
    duration: orNull(integer('Milliseconds it ran (so far); null until it runs.')),
    attempts: integer(),
    errorCode: orNull(string('REFUSED, DNS, TIMEOUT, TLS, AUTH, PERMISSION, PROTOCOL, CANCELLED or UNKNOWN when it failed.')),
    message: orNull(string()),
  }, undefined, 'One task of a job session: the inventory of one application server (a Census addition).'),

  TaskList: collection('tasks', 'Task', 'Tasks of a job session.'),

  Change: object({
    links: r('Links'),
    id: numericId('Change id'),
    jobsessionId: numericId('Session that recorded it'),
    appserverId: numericId('Application server id'),
    objectType: string('`instance`, `database` or `filesystem`.'),
    objectId: orNull(numericId('Id of the object')),
    objectName: string(),
    parentName: orNull(string('Name of the instance of a database.')),
    change: string('`appeared`, `reappeared`, `disappeared` or `changed`.'),
    field: orNull(string('The property that changed.')),
    oldValue: orNull(string()),
    newValue: orNull(string()),
    recordedAt: epochMs('When it was recorded'),
  }, undefined, 'One entry of the inventory change history (a Census addition).'),

  ChangeList: collection('changes', 'Change', 'Changes, oldest first.'),

  LogEntry: object({
    links: r('Links'),
    id: string('24 hex characters.'),
    name: alwaysNull(),
    type: string(undefined, { enum: [...LOG_TYPES] }),
    category: string('Always `NONSERVICE`.'),
    logTime: epochMs('When it was written'),
    modName: alwaysNull(),
    jobId: numericId('Job id'),
    jobsessionTaskId: orNull(numericId('Task id')),
    jobsessionId: integer('Session id, as a JSON number (as SPP writes it).'),
    sessionId: numericId('Session id'),
    threadId: alwaysNull(),
    policyId: numericId('Policy id'),
    message: string(),
    messageId: string('Census message ids start with `CNS` (docs/compat.md lists them).'),
    messageParams: arrayOf(string(), 'Positional values of the message.'),
    detail: alwaysNull(),
    properties: alwaysNull(),
    requesterIp: alwaysNull(),
  }, undefined, 'A job log entry (spec §6).'),

  LogList: collection('logs', 'LogEntry', 'Job log entries.'),

  Identity: object({
    links: r('Links'),
    id: numericId('Identity id'),
    name: string(),
    username: string(),
    type: string('e.g. `system`.'),
    ostype: string('e.g. `LINUX`.'),
    comment: orNull(string()),
    keytype: string('`ssh_private_key` (key identities only).'),
    resourceType: string('`identityuser` or `identitykey`.'),
  }, ['links', 'id', 'name', 'username', 'type', 'ostype', 'comment', 'resourceType'],
  'Stored credentials (spec §7.5). The password or private key is never returned.'),

  UserIdentityList: collection('users', 'Identity', 'User name and password identities.'),
  KeyIdentityList: collection('keys', 'Identity', 'SSH key identities.'),

  AppServer: object({
    links: { ...r('Links'), description: 'self, up, edit, delete, the `inventory` and `test` actions, instances.' },
    id: numericId('Application server id'),
    name: string(),
    hostAddress: string(),
    comment: orNull(string()),
    catalogEligible: boolean(),
    serverType: string('Always `physical`.'),
    vsphereId: alwaysNull(),
    applicationType: string('A `type` of GET /api/census/collector.'),
    applicationTypes: arrayOf(string()),
    osType: string(),
    useKeyAuthentication: boolean(),
    tls: string('How database logins use TLS (a Census addition).', { enum: ['disable', 'require', 'verify'] }),
    logicalDelete: boolean(),
    oskey: orNull(object({ href: string('The identity.') })),
    osuser: orNull(object({ href: string('The identity.') })),
    appCredentials: arrayOf(openObject(), 'Always empty in Census.'),
    portNumber: orNull(integer('Database port (SSH port for file hosts); null for the default.')),
    opProperties: openObject(undefined, { maxConcurrency: integer() }),
    application: boolean(),
    script: boolean(),
    metadataPath: alwaysNull(),
    siteName: string(),
    siteId: string(),
    nodeId: alwaysNull(),
    type: string('Always `appserver`.'),
    resourceType: string('Always `appserver`.'),
    rbacPath: string(),
  }, undefined, 'A registered application server (spec §7.1).'),

  AppServerList: collection('appservers', 'AppServer', 'Application servers.'),

  AppServerBulkResult: object({
    total: integer('How many were registered.'),
    sessionId: orNull(numericId('The inventory session covering them; null with ?inventory=false')),
    appservers: arrayOf(r('AppServer')),
  }, undefined, 'The result of a bulk registration.'),

  NgpAppServerCreated: object({
    statusCode: integer('Always 201.'),
    response: r('AppServer'),
  }, undefined, 'A registration through the NodeJS layer: the server wrapped as `{statusCode, response}`.'),

  AppServerInventoryStarted: object({
    appserver: r('AppServer'),
    sessionId: numericId('The inventory session that covers the server'),
    started: boolean('A new session started (false: the server joined the running one).'),
  }, undefined, 'Answer of `?action=inventory`.'),

  ConnectionCheck: {
    ...object({
      name: string('e.g. `connect`, `login`, `privilege:pg_read_all_settings`.'),
      description: string(),
      status: string(undefined, { enum: ['SUCCESS', 'FAILED', 'WARNING', 'SKIPPED'] }),
      message: string('What went wrong and what to do; never a secret.'),
    }, ['name', 'description', 'status'], 'One step of a connection test.'),
    additionalProperties: true,
  },

  ConnectionTest: object({
    statusHref: string('Where the result can be read again.'),
    testsComplete: boolean(),
    configGroups: arrayOf(object({
      name: string(),
      description: string(),
      tests: arrayOf(r('ConnectionCheck')),
    })),
  }, undefined, 'A connection test, in the shape sppclient reads.'),

  Finding: {
    ...object({ code: string('Stable code, e.g. `ARCHIVE_MODE_OFF`.'), message: string() }, ['code', 'message'], 'A readiness finding.'),
    additionalProperties: true,
  },

  Instance: object({
    links: { ...r('Links'), description: 'self, up, databases (or filesystems), history, appserver.' },
    id: numericId('Instance id'),
    name: string('`host:port`.'),
    host: string(),
    port: orNull(integer()),
    version: orNull(string()),
    applicationType: string(),
    osType: string(),
    appserverId: numericId('Application server id'),
    storageProfiles: arrayOf(string(), 'Always empty in Census.'),
    metadataPath: alwaysNull(),
    properties: openObject('What the collector read (settings, extensions, data directory, …).'),
    firstSeen: epochMs('First found'),
    lastSeen: epochMs('Last found'),
    missing: boolean('The last inventory did not find it.'),
    lastSessionId: orNull(numericId('Session that last saw it')),
    findings: arrayOf(r('Finding')),
    resourceType: string('Always `applicationinstance`.'),
  }, undefined, 'A database server instance (or file host) an inventory found (spec §7.4).'),

  InstanceList: collection('instances', 'Instance', 'Instances.'),

  Database: object({
    links: r('Links'),
    id: numericId('Database id'),
    name: string('Database name, or the mount point of a file system.'),
    instanceId: numericId('Instance id'),
    size: orNull(integer('Bytes (same as sizeBytes).')),
    sizeBytes: orNull(integer()),
    owner: orNull(string()),
    encoding: orNull(string()),
    properties: openObject(),
    firstSeen: epochMs('First found'),
    lastSeen: epochMs('Last found'),
    missing: boolean('The last inventory did not find it.'),
    findings: arrayOf(r('Finding')),
    storageProfiles: arrayOf(string(), 'Always empty in Census.'),
    eligibility: object({
      backup: object({ eligible: boolean() }),
      logbackup: object({ eligible: boolean() }),
    }),
    resourceType: string('`database` or `filesystem`.'),
  }, undefined, 'A database (or a file system on a file host) an inventory found.'),

  DatabaseList: collection('databases', 'Database', 'Databases of an instance.'),
  FileSystemList: collection('filesystems', 'Database', 'File systems of a file host.'),

  Collector: object({
    links: { ...r('Links'), description: 'self, up, instances (what it found), appservers (the servers of its type).' },
    id: string('The application type.'),
    type: string('The application type (`applicationType` of its servers), e.g. `postgresql`.'),
    displayName: string('For people, e.g. `PostgreSQL`.'),
    serverNoun: string('What one of its servers is called, e.g. `PostgreSQL server`, `Linux host`.'),
    group: string('The Manage Protection group its servers are listed under.', { enum: PROTECTION_GROUPS }),
    defaultPort: orNull(integer('The port a registration without one uses.')),
    childTypes: arrayOf(string(), 'What an instance holds: `database`, `filesystem`, `keyspace`, …'),
    identityKinds: arrayOf(string(undefined, { enum: IDENTITY_KINDS }), 'How it may log in, in order of preference: `password` (an identity/user) or `key` (an identity/key, `useKeyAuthentication`).'),
    tls: boolean('Whether a server\'s `tls` mode (disable, require, verify) applies.'),
    checks: arrayOf(object({ name: string(), description: string() }), 'Its connection test\'s checks, in order: the `name`s `?action=test` answers.'),
    resourceType: string('Always `collector`.'),
  }, undefined, 'An application type Census can inventory: its collector\'s metadata (a Census addition).'),

  CollectorList: collection('collectors', 'Collector', 'What Census can inventory.'),

  LoginUser: object({
    links: r('Links'),
    id: numericId('User id'),
    name: string(),
    type: string('Always `NATIVE_USER`.'),
    typeDisplayName: string(),
    tenantId: integer('Always 1000.'),
    rbacPath: string(),
    permissions: arrayOf(openObject()),
    metadata: openObject(),
    loginCount: integer(),
    lastLogin: orNull(epochMs('Last successful login')),
    failedLogin: integer(),
    lastFailedLogin: orNull(epochMs('Last failed login')),
    lastPasswordUpdate: epochMs('Last password change'),
    passwordAge: integer(),
    passwordExpiresAt: integer(),
    passwordExpired: boolean(),
    accountDisabled: boolean(),
    accountLocked: boolean(),
  }, undefined, 'The logged-in user, with the fields the SPP UI deserializes.'),

  LoginResponse: object({
    sessionid: string('Send it as `X-Endeavour-Sessionid` on every other call. 32 lowercase hex characters.'),
    user: r('LoginUser'),
    demo: boolean(),
    tenantAdmin: boolean(),
    userGroups: arrayOf(openObject()),
    timeZone: string(),
  }, undefined, 'A new login session.'),

  Ping: object({
    version: string(),
    build: string(),
    product: string('Always `Census`.'),
    uptime: integer('Milliseconds since the server started.'),
    time: epochMs('Server time'),
  }, undefined, 'Version probe (no session needed).'),

  NgpVersion: object({
    product: string(),
    version: string(),
    build: string(),
    date: string('Server start, ISO 8601.'),
    epoch: string('Server start, epoch milliseconds as a string.'),
  }, undefined, "The NodeJS layer's version probe (no session needed)."),
} satisfies Record<string, Schema>;

export type ComponentId = keyof typeof COMPONENTS;

export const ref = (id: ComponentId): Schema => r(id);

/** Registers the shared schemas on the instance (before routes refer to them). */
export function addSharedSchemas(app: FastifyInstance): void {
  for (const [id, schema] of Object.entries(COMPONENTS)) app.addSchema({ $id: id, ...schema });
}

// ---- request parts -------------------------------------------------------------------------

/** A query parameter: a string, or several (a repeated parameter; the last one counts). */
export const queryParam = (description: string): Schema => ({
  description,
  anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }],
});

/** A query string with these parameters; any other parameter is ignored, as SPP clients expect. */
export const query = (params: Record<string, string>): Schema => ({
  type: 'object',
  properties: Object.fromEntries(Object.entries(params).map(([k, d]) => [k, queryParam(d)])),
  additionalProperties: true,
});

const COLLECTION_PARAMS = {
  filter: 'JSON array of criteria `[{"property": "name", "value": "x", "op": "="}]`, combined with AND. Operators: =, <>, <, >, <=, >=, IN, NOT IN, EXISTS, NOT EXISTS (default =); `*` is a wildcard with = and <>; unknown properties are ignored.',
  sort: 'JSON array `[{"property": "name", "direction": "ASC"}]` (ASC or DESC).',
  pageSize: 'Records per page: a whole number ≥ 1 (default 100, at most 100000).',
  pageStartIndex: '0-based index of the first record (default 0).',
};

/** The query string of a collection: filter, sort and paging (spec §1.6–1.8), plus `extra`. */
export const collectionQuery = (extra: Record<string, string> = {}, omit: (keyof typeof COLLECTION_PARAMS)[] = []): Schema =>
  query(Object.fromEntries(Object.entries({ ...COLLECTION_PARAMS, ...extra }).filter(([k]) => !(omit as string[]).includes(k))));

/** Path parameters; ids are numeric strings, checked by the handler (400 if not a number, 404 if unknown). */
export const pathParams = (params: Record<string, string>): Schema => ({
  type: 'object',
  properties: Object.fromEntries(Object.entries(params).map(([k, d]) => [k, { type: 'string', description: d }])),
  required: Object.keys(params),
});

/** A request body's typed description, kept for the document (see `requestBody`). */
const documentedBodies = new WeakMap<object, { schema: Schema; required: boolean }>();

/**
 * A request body. The handlers check bodies themselves, with the 400 messages clients know, and
 * accept what SPP's clients send — no body, `{}`, loose types (`"portNumber": "5432"`,
 * `"addToCatJob": "true"`), arrays or CSV for bulk registration — so the schema the route
 * validates with admits any body. `typed` describes what the handler reads; the OpenAPI document
 * shows it in place of the permissive schema (documentedBody, used by src/api/openapi.ts).
 */
export function requestBody(typed: Schema, opts: { required?: boolean } = {}): Schema {
  const permissive: Schema = { description: typeof typed.description === 'string' ? typed.description : 'The request body.' };
  documentedBodies.set(permissive, { schema: typed, required: opts.required ?? false });
  return permissive;
}

export const documentedBody = (body: unknown): { schema: Schema; required: boolean } | undefined =>
  body && typeof body === 'object' ? documentedBodies.get(body) : undefined;

// ---- responses ------------------------------------------------------------------------------

export type Access = 'session' | 'public' | 'basic';

const ERROR_TEXT: Record<number, string> = {
  400: 'Malformed input: filter, sort, paging, ids, parameters or body (`XSBInvalidArgumentException`), or an operation that is not allowed.',
  401: 'No session header (`XSBMissingSessionidException`), an unknown or expired session (`XSBSessionDoesNotExistException`), or bad credentials (`XSBAuthenticationException`).',
  404: 'No such object (`XSBObjectNotFoundException`).',
  409: 'Conflicts with what exists (`XSBConflictException`).',
  413: 'The body is larger than 1 MiB (`XSBRequestTooLargeException`).',
  429: 'Too many failed logins from this address (`XSBTooManyLoginAttemptsException`); see `Retry-After`.',
  500: 'Unexpected error (`XSBInternalException`); the server log has the details.',
};

export interface RouteDoc {
  tag: Tag;
  summary: string;
  description?: string;
  params?: Schema;
  querystring?: Schema;
  body?: Schema;
  /** Successful answers by status: a component, or a schema with a description. */
  ok: Record<number, ComponentId | Schema>;
  /** Error statuses besides 401 (added unless public) and 500. */
  errors?: number[];
  access?: Access;
  /** Errors come wrapped the NodeJS layer's way (/ngp routes). */
  ngp?: boolean;
  /** Response headers of the successful answers, e.g. Location. */
  headers?: Record<string, string>;
}

/** The schema of one route: validation, serialization and documentation in one object. */
export function routeSchema(d: RouteDoc): FastifySchema {
  const errorRef = d.ngp ? ref('NgpError') : ref('Error');
  const response: Record<string, Schema> = {};
  for (const [status, body] of Object.entries(d.ok)) {
    const schema = typeof body === 'string' ? { description: (COMPONENTS[body] as Schema).description, ...ref(body) } : body;
    response[status] = d.headers ? { ...schema, headers: Object.fromEntries(Object.entries(d.headers).map(([h, text]) => [h, { type: 'string', description: text }])) } : schema;
  }
  const errors = new Set([...(d.errors ?? []), ...(d.access === 'public' ? [] : [401]), 500]);
  if (d.body) errors.add(413);
  const errorAnswers: Record<string, Schema> = {};
  for (const status of [...errors].sort()) {
    errorAnswers[status] = {
      description: ERROR_TEXT[status] ?? 'Error.',
      ...errorRef,
      ...(status === 429 ? { headers: { 'retry-after': { type: 'string', description: 'Seconds to wait (60).' } } } : {}),
    };
  }
  // Every error answer has the one shape: the route serializes them all with one schema under
  // `default` (compiled once per route rather than once per status), and the document lists them
  // status by status (documentedResponses).
  const anyError: Schema = { description: 'An error.', ...errorRef };
  errorResponses.set(anyError, errorAnswers);
  response.default = anyError;
  const security = d.access === 'public' ? [] : d.access === 'basic' ? [{ basicAuth: [] }] : undefined;
  return {
    tags: [d.tag],
    summary: d.summary,
    ...(d.description ? { description: d.description } : {}),
    ...(d.params ? { params: d.params } : {}),
    ...(d.querystring ? { querystring: d.querystring } : {}),
    ...(d.body ? { body: d.body } : {}),
    response,
    ...(security ? { security } : {}),
  } as FastifySchema;
}

/** The error answers of a route by status, keyed by its `default` response schema. */
const errorResponses = new WeakMap<object, Record<string, Schema>>();

/** A route's responses as the document shows them: the errors listed by status instead of `default`. */
export function documentedResponses(response: unknown): Record<string, unknown> | undefined {
  if (!response || typeof response !== 'object') return undefined;
  const { default: anyError, ...rest } = response as Record<string, unknown>;
  const errors = anyError && typeof anyError === 'object' ? errorResponses.get(anyError) : undefined;
  return errors ? { ...rest, ...errors } : undefined;
}

/** A 204 answer. */
export const noContent = (description: string): Schema => ({ type: 'null', description });

/** Successful answer with its own description. */
export const answer = (id: ComponentId, description: string): Schema => ({ description, ...ref(id) });

/** One of several components, told apart by their required properties. */
export const oneOfAnswers = (ids: ComponentId[], description: string): Schema => ({ description, anyOf: ids.map((id) => ref(id)) });

// ---- tags ------------------------------------------------------------------------------------

export const TAGS = {
  login: 'Login',
  jobs: 'Jobs',
  sessions: 'Job sessions',
  logs: 'Logs',
  identities: 'Identities',
  appservers: 'Application servers',
  inventory: 'Inventory',
  system: 'System',
  events: 'Events',
  metrics: 'Metrics',
  collectors: 'Collectors',
} as const;
export type Tag = (typeof TAGS)[keyof typeof TAGS];

export const TAG_DESCRIPTIONS: { name: Tag; description: string }[] = [
  { name: 'Login', description: 'Login sessions: Basic-auth login, `X-Endeavour-Sessionid` on every other call, a sliding 45-minute idle timeout.' },
  { name: 'Jobs', description: 'Jobs 1001 Maintenance and 1004 Application Server Inventory: status, start, cancel, schedule.' },
  { name: 'Job sessions', description: 'Runs of jobs, their tasks, counts and the inventory changes they recorded.' },
  { name: 'Logs', description: 'Job log entries.' },
  { name: 'Identities', description: 'Stored credentials: user name and password, or SSH key. Secrets go in and never come out.' },
  { name: 'Application servers', description: 'Registration (one, bulk JSON or CSV, /ngp), per-server inventory and connection tests.' },
  { name: 'Inventory', description: 'What inventories found: instances, databases and file systems, and their change history.' },
  { name: 'System', description: 'Version probes that need no session.' },
  { name: 'Events', description: 'Live Server-Sent Events of job, session, task and log changes, resumable with Last-Event-ID.' },
  { name: 'Metrics', description: 'Prometheus metrics, with a login session or the metrics token.' },
  { name: 'Collectors', description: 'What Census can inventory: each application type with its group, default port, logins and connection checks (a Census addition).' },
];
