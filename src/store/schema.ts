/**
 * Table shapes as Kysely sees them (camelCase; the CamelCasePlugin maps to snake_case columns).
 * Booleans are stored as 0/1 and JSON as text on both dialects, so both return the same values.
 */
import type { Generated } from 'kysely';

export interface UsersTable {
  id: Generated<number>;
  name: string;
  passwordHash: string;
  type: string;
  createdAt: number;
  lastLogin: number | null;
  loginCount: number;
  failedLogin: number;
  lastFailedLogin: number | null;
  lastPasswordUpdate: number;
  disabled: Generated<number>;
  passwordExpired: Generated<number>;
  /** For a directory (LDAP) user: the directory and the entry's DN. */
  directoryId: number | null;
  dn: string | null;
}

/** Custom roles (built-in ones live in core/permissions.ts). */
export interface RolesTable {
  id: Generated<number>;
  name: string;
  description: string;
  /** JSON array of permission keys. */
  permissionIds: string;
  createdAt: number;
}

/** Custom resource groups. */
export interface ResourcePoolsTable {
  id: Generated<number>;
  name: string;
  description: string;
  /** JSON array of PoolResource. */
  resources: string;
  createdAt: number;
}

/** A user's permission sets: a role on a resource group. */
export interface UserPermissionsTable {
  userId: number;
  roleId: number;
  poolId: number;
}

/** API keys, by the SHA-256 of the key; `prefix` is the first characters, shown in lists. */
export interface ApiKeysTable {
  id: Generated<number>;
  userId: number;
  name: string;
  keyHash: string;
  prefix: string;
  createdAt: number;
  createdBy: number | null;
  expiresAt: number | null;
  readOnly: Generated<number>;
  /** JSON array of addresses or CIDR ranges, or null for any. */
  allowedAddresses: string | null;
  lastUsedAt: number | null;
  lastUsedFrom: string | null;
  revokedAt: number | null;
}

/** Who did what, when, from where, and how it ended. Append-only. */
export interface AuditLogTable {
  id: Generated<number>;
  at: number;
  userId: number | null;
  userName: string;
  address: string | null;
  action: string;
  targetType: string | null;
  targetId: string | null;
  targetName: string | null;
  outcome: string;
  /** JSON object with what else is worth knowing (never a secret). */
  detail: string | null;
}

/** Directory (LDAP) servers; the bind password sealed like identities' secrets. */
export interface DirectoriesTable {
  id: Generated<number>;
  name: string;
  /** JSON of the directory's settings, without the bind password. */
  config: string;
  bindSecret: string | null;
  createdAt: number;
}

export interface DirectoryGroupMappingsTable {
  id: Generated<number>;
  directoryId: number;
  groupDn: string;
  roleId: number;
  poolId: number;
}

/**
 * Login sessions by the SHA-256 (hex) of their id, never the id itself: a copy of the database
 * must not hand out live sessions (store/users.ts).
 */
export interface LoginSessionsTable {
  idHash: string;
  userId: number;
  createdAt: number;
  lastAccess: number;
}

/** Failed-login counters: `kind` 'address' (subject: the address) or 'name' (subject: SHA-256 of the user name). */
export interface LoginFailuresTable {
  kind: string;
  subject: string;
  failures: number;
  windowStart: number;
  lockedUntil: number | null;
}

export interface JobsTable {
  id: number;
  name: string;
  description: string | null;
  policyId: number;
  policyName: string;
  type: string;
  subType: string;
  serviceId: string;
  held: number;
  runningSessionId: number | null;
  lastSessionId: number | null;
  triggerId: number | null;
  schedule: string | null;
  nextFireTime: number | null;
  options: string;
}

export interface JobSessionsTable {
  id: number;
  jobId: number;
  jobName: string;
  type: string;
  subType: string;
  serviceId: string;
  status: string;
  start: number;
  end: number | null;
  lastUpdate: number;
  numTasks: number;
  percent: number;
  results: string;
  trigger: string;
  cancelRequested: number;
  statistics: string;
  scope: string;
}

export interface TasksTable {
  id: Generated<number>;
  sessionId: number;
  appserverId: number | null;
  targetKind: Generated<string>;
  targetId: string | null;
  payload: string | null;
  name: string;
  status: string;
  start: number | null;
  end: number | null;
  attempts: number;
  errorCode: string | null;
  message: string | null;
  owner: string | null;
  leaseExpires: number | null;
  queuedAt: number | null;
}

export interface LogsTable {
  id: string;
  seq: Generated<number>;
  sessionId: number;
  jobId: number;
  taskId: number | null;
  logTime: number;
  type: string;
  messageId: string;
  messageParams: string;
  message: string;
}

export interface IdentitiesTable {
  id: Generated<number>;
  name: string;
  username: string;
  secret: string;
  type: string;
  ostype: string;
  comment: string | null;
  createdAt: number;
  kind: Generated<string>;
}

export interface AppServersTable {
  id: Generated<number>;
  name: string;
  hostAddress: string;
  portNumber: number | null;
  applicationType: string;
  osType: string;
  identityId: number | null;
  comment: string | null;
  useKeyAuthentication: number;
  maxConcurrency: number;
  createdAt: number;
  tlsMode: Generated<string>;
  /** A hypervisor's libvirt URI (migration 10). */
  uri: string | null;
  /** The site the server belongs to (migration 9; 1000 is "Primary"). */
  siteId: Generated<number>;
}

/** Sites (migration 9): places servers and workers belong to; 1000 "Primary" always exists. */
export interface SitesTable {
  id: Generated<number>;
  name: string;
  description: string;
  defaultSite: Generated<number>;
  /** 1: when no live worker is in this site, any worker may take its tasks. */
  allowAnyWorker: Generated<number>;
  createdAt: number;
}

/** Processes that run tasks (store/workers.ts): `census worker`, or a server that runs tasks itself. */
export interface WorkersTable {
  id: Generated<number>;
  /** Host name. */
  name: string;
  address: string | null;
  siteId: number;
  version: string;
  pid: number;
  /** Its name as task owner (engine). */
  owner: string;
  /** Its lease: without a heartbeat for this long it counts as dead. */
  leaseMs: number;
  startedAt: number;
  lastSeenAt: number;
  /** 'RUNNING' or 'STOPPED' (a clean stop); a dead one stays 'RUNNING' with an old lastSeenAt. */
  state: string;
  /** Percent of the machine's CPUs busy under which it takes tasks while sharing its machine (migration 15); null: never holds back. */
  sharedCpu: number | null;
}

export interface InstancesTable {
  id: Generated<number>;
  appserverId: number;
  applicationType: string;
  name: string;
  host: string;
  port: number | null;
  version: string | null;
  properties: string;
  firstSeen: number;
  lastSeen: number;
  missing: number;
  lastSessionId: number | null;
  findings: Generated<string>;
}

export interface DatabasesTable {
  id: Generated<number>;
  instanceId: number;
  name: string;
  sizeBytes: number | null;
  owner: string | null;
  encoding: string | null;
  properties: string;
  firstSeen: number;
  lastSeen: number;
  missing: number;
  findings: Generated<string>;
  objectType: Generated<string>;
}

export interface InventoryChangesTable {
  id: Generated<number>;
  sessionId: number;
  appserverId: number;
  objectType: string;
  objectId: number | null;
  objectName: string;
  parentName: string | null;
  change: string;
  field: string | null;
  oldValue: string | null;
  newValue: string | null;
  recordedAt: number;
}

export interface ConnectionTestsTable {
  id: Generated<number>;
  appserverId: number;
  createdAt: number;
  complete: number;
  checks: string;
}

/** The event journal (store/events.ts): seq is assigned at insert and is the SSE id. */
export interface EventsTable {
  seq: Generated<number>;
  type: string;
  jobId: number | null;
  sessionId: number | null;
  data: string;
  createdAt: number;
}

/** Ended sessions that maintenance removed, counted by job name and result (store/metrics.ts). */
export interface SessionTalliesTable {
  jobName: string;
  status: string;
  n: number;
}

/** Delivery attempts of notifications maintenance removed, by channel and result. */
export interface DeliveryAttemptTalliesTable {
  channel: string;
  ok: number;
  n: number;
}

export interface DB {
  users: UsersTable;
  loginSessions: LoginSessionsTable;
  loginFailures: LoginFailuresTable;
  jobs: JobsTable;
  jobSessions: JobSessionsTable;
  tasks: TasksTable;
  logs: LogsTable;
  identities: IdentitiesTable;
  appservers: AppServersTable;
  instances: InstancesTable;
  databases: DatabasesTable;
  inventoryChanges: InventoryChangesTable;
  connectionTests: ConnectionTestsTable;
  events: EventsTable;
  sessionTallies: SessionTalliesTable;
  deliveryAttemptTallies: DeliveryAttemptTalliesTable;
  roles: RolesTable;
  resourcePools: ResourcePoolsTable;
  userPermissions: UserPermissionsTable;
  apiKeys: ApiKeysTable;
  auditLog: AuditLogTable;
  directories: DirectoriesTable;
  directoryGroupMappings: DirectoryGroupMappingsTable;
  sites: SitesTable;
  workers: WorkersTable;
  alerts: AlertsTable;
  notifications: NotificationsTable;
  webhooks: WebhooksTable;
  smtpServers: SmtpServersTable;
  mailRecipients: MailRecipientsTable;
  deliveries: DeliveriesTable;
  deliveryAttempts: DeliveryAttemptsTable;
  settings: SettingsTable;
}

/** Alerts (store/alerts.ts); `openKey` is the key while the alert is open, NULL once cleared. */
export interface AlertsTable {
  id: Generated<number>;
  kind: string;
  alertKey: string;
  openKey: string | null;
  status: string;
  severity: string;
  message: string;
  objects: string;
  jobId: number | null;
  sessionId: number | null;
  firstAt: number;
  lastAt: number;
  count: Generated<number>;
  acknowledgedBy: string | null;
  acknowledgedAt: number | null;
  clearedAt: number | null;
}

/** The notification outbox (store/notifications.ts). */
export interface NotificationsTable {
  id: Generated<number>;
  eventId: string;
  type: string;
  data: string;
  createdAt: number;
  dispatchedAt: number | null;
}

export interface WebhooksTable {
  id: Generated<number>;
  name: string;
  url: string;
  /** JSON array of event names (core/notifications.ts WEBHOOK_EVENTS). */
  events: string;
  /** json | slack | teams */
  format: string;
  /** Sealed with the secret box. */
  secret: string;
  enabled: Generated<number>;
  retryForMs: number;
  createdAt: number;
}

export interface SmtpServersTable {
  id: Generated<number>;
  host: string;
  port: number;
  /** none | starttls | tls */
  security: string;
  username: string | null;
  /** Sealed with the secret box. */
  password: string | null;
  sender: string;
  /** The web UI's address, for links in messages (null: the server's own). */
  uiUrl: string | null;
  createdAt: number;
  updatedAt: number;
  /** Check the server's certificate (against `caCert` when given, else the system's CAs). */
  tlsVerify: Generated<number>;
  caCert: string | null;
  /** Deadline of connecting, the greeting and each reply (ms). */
  timeoutMs: Generated<number>;
  /** Put before every subject (SPP's "Subject Prefix"). */
  subjectPrefix: string | null;
  /** How long a message is retried before it is given up (ms). */
  retryForMs: Generated<number>;
}

export interface MailRecipientsTable {
  id: Generated<number>;
  address: string;
  /** JSON arrays: alert kinds; job ids whose ended sessions are mailed; session results (empty: FAILED and PARTIAL). */
  alertKinds: string;
  jobIds: string;
  results: string;
  createdAt: number;
}

export interface DeliveriesTable {
  id: Generated<number>;
  notificationId: number;
  channel: string;
  targetId: number | null;
  target: string;
  status: string;
  attempts: Generated<number>;
  nextAttemptAt: number;
  giveUpAt: number;
  createdAt: number;
  deliveredAt: number | null;
  lastError: string | null;
}

export interface DeliveryAttemptsTable {
  id: Generated<number>;
  deliveryId: number;
  at: number;
  durationMs: number;
  ok: number;
  statusCode: number | null;
  response: string | null;
  error: string | null;
}

/** Census-wide settings by name, each a JSON value (the alert settings are "alerts"). */
export interface SettingsTable {
  name: string;
  value: string;
}
