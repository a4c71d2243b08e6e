/** The domain records, as the store keeps them. Times are epoch milliseconds. */
import type { LogType, SessionStatus, TaskStatus } from './status.ts';

export interface User {
  id: number;
  name: string;
  passwordHash: string;
  /** A user of Census's own (NATIVE_USER) or one whose password a directory checks (LDAP_USER). */
  type: 'NATIVE_USER' | 'LDAP_USER';
  createdAt: number;
  lastLogin: number | null;
  loginCount: number;
  failedLogin: number;
  lastFailedLogin: number | null;
  lastPasswordUpdate: number;
  /** A disabled user cannot log in, and their sessions and API keys stop working. */
  disabled: boolean;
  /** Must set a new password before anything else (a user made by another user, or reset). */
  passwordExpired: boolean;
  directoryId: number | null;
  dn: string | null;
}

export interface LoginSession {
  id: string;
  userId: number;
  createdAt: number;
  lastAccess: number;
}

/** A daily trigger: a wall-clock time in an IANA time zone (docs/scheduling.md). */
export interface DailySchedule {
  time: string; // HH:MM
  timezone: string;
}

export interface Job {
  id: number;
  name: string;
  description: string | null;
  policyId: number;
  policyName: string;
  type: string;
  subType: string;
  serviceId: string;
  held: boolean;
  runningSessionId: number | null;
  lastSessionId: number | null;
  triggerId: number | null;
  schedule: DailySchedule | null;
  nextFireTime: number | null;
  /** Job-kind options, e.g. the maintenance retention. */
  options: Record<string, unknown>;
}

export interface JobSession {
  id: number;
  jobId: number;
  jobName: string;
  type: string;
  subType: string;
  serviceId: string;
  status: SessionStatus;
  start: number;
  end: number | null;
  lastUpdate: number;
  numTasks: number;
  percent: number;
  results: string;
  /** What started it: "manual", "schedule", "registration", "appserver". */
  trigger: string;
  cancelRequested: boolean;
  /** Counts by resource type, SPP's `properties.statistics`. */
  statistics: SessionStatistic[];
  /** The resources the run covered (SPP's policySnapshot.spec.source). */
  scope: ScopeEntry[];
}

/**
 * A session without its scope: what the engine and the job status need, read again and again
 * while the session runs. A 10,000-server scope is a megabyte, and reading it took most of the
 * engine's time per task; only the session's own API answer (policySnapshot) reads it.
 */
export type SessionState = Omit<JobSession, 'scope'>;

export interface SessionStatistic {
  resourceType: string;
  total: number;
  success: number;
  failed: number;
  skipped: number;
  /** Change-history counts, on the instance / database / filesystem entries of an inventory. */
  appeared?: number;
  disappeared?: number;
  changed?: number;
}

export interface ScopeEntry {
  resourceType: string;
  id: number;
  name: string;
}

export interface Task {
  id: number;
  sessionId: number;
  /**
   * What the task works on: a kind ('appserver', 'none', and whatever a job type fans out over)
   * with the id of that thing and/or a payload (JSON) of what the job type needs to know.
   */
  targetKind: string;
  targetId: string | null;
  payload: unknown;
  /** The target's id when it is an application server: SPP's wire field, kept from the target. */
  appserverId: number | null;
  name: string;
  status: TaskStatus;
  start: number | null;
  end: number | null;
  attempts: number;
  errorCode: string | null;
  message: string | null;
  /** The process running it (host:pid:nonce) while RUNNING. */
  owner: string | null;
  /** Epoch ms until which the owner's claim holds; the owner renews it while it works. */
  leaseExpires: number | null;
  /** When it was last handed to the queue. */
  queuedAt: number | null;
}

export interface LogEntry {
  id: string;
  sessionId: number;
  jobId: number;
  taskId: number | null;
  logTime: number;
  type: LogType;
  messageId: string;
  messageParams: string[];
  message: string;
}

export interface Identity {
  id: number;
  name: string;
  username: string;
  /** "password", or "key" for an SSH private key. */
  kind: string;
  /**
   * Sealed (AES-256-GCM): the password, or for a key the JSON {privateKey, passphrase}. Never
   * leaves the store except to a collector.
   */
  secret: string;
  type: string;
  ostype: string;
  comment: string | null;
  createdAt: number;
}

export interface AppServer {
  id: number;
  name: string;
  hostAddress: string;
  portNumber: number | null;
  applicationType: string;
  osType: string;
  identityId: number | null;
  comment: string | null;
  useKeyAuthentication: boolean;
  maxConcurrency: number;
  createdAt: number;
  /** "disable", "require" or "verify": how database logins use TLS. */
  tlsMode: string;
  /** A hypervisor's libvirt URI on its host (null: the collector's default, qemu:///system); unused by application servers. */
  uri?: string | null;
  /** The site it belongs to (1000: "Primary"); workers of that site run its tasks (docs/sites.md). */
  siteId?: number;
  /** Its site's name, as read (never written). */
  siteName?: string;
}

/**
 * The last recorded state of one server's objects, as the store has it (objects then found, not
 * missing ones): what a collector is given to compare its change signals with.
 */
export interface PreviousInventory {
  instances: {
    name: string;
    properties: Record<string, unknown>;
    databases: { name: string; properties: Record<string, unknown> }[];
  }[];
}

export interface Instance {
  id: number;
  appserverId: number;
  applicationType: string;
  name: string;
  host: string;
  port: number | null;
  version: string | null;
  properties: Record<string, unknown>;
  firstSeen: number;
  lastSeen: number;
  missing: boolean;
  lastSessionId: number | null;
  findings: Finding[];
}

/** A readiness finding kept on an inventory object. */
export interface Finding {
  code: string;
  message: string;
}

export interface InventoryChange {
  id: number;
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

export interface Database {
  id: number;
  instanceId: number;
  name: string;
  sizeBytes: number | null;
  owner: string | null;
  encoding: string | null;
  properties: Record<string, unknown>;
  firstSeen: number;
  lastSeen: number;
  missing: boolean;
  findings: Finding[];
  /** "database", or "filesystem" on file-system hosts. */
  objectType: string;
}
