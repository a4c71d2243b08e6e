/** The parts of Census's (SPP's) JSON the UI reads. See docs/compat.md for every field. */

export interface Link {
  href: string;
  rel: string;
  title?: string;
}
export type Links = Record<string, Link | undefined>;

export interface Envelope {
  links: Links;
  total: number;
  page: number;
}

export interface LastRun {
  sessionId: string;
  jobName: string;
  start: number;
  end: number | null;
  duration: number;
  status: string;
  results: string;
  numTasks: number;
  percent: number;
}

export interface Job {
  links: Links;
  id: string;
  name: string;
  displayName: string;
  serviceId: string;
  type: string;
  status: string;
  statusDisplayName: string;
  lastSessionStatus: string | null;
  lastRunTime: number | null;
  nextFireTime: number | null;
  lastSessionDuration: number | null;
  triggerIds: string[];
  lastrun?: LastRun;
}

export interface SessionStatistic {
  resourceType: string;
  total: number;
  success: number;
  failed: number;
  skipped: number;
  /** On the instance / database / filesystem entries of an inventory: what changed. */
  appeared?: number;
  disappeared?: number;
  changed?: number;
}

export interface JobSession {
  links: Links;
  id: string;
  jobId: string;
  jobName: string;
  serviceId: string;
  status: string;
  statusDisplayName: string;
  start: number;
  end: number | null;
  duration: number;
  percent: number;
  numTasks: number;
  results: string;
  properties: { statistics?: SessionStatistic[]; trigger?: string } | null;
}

export interface Task {
  id: string;
  name: string;
  appserverId: string | null;
  status: string;
  start: number | null;
  end: number | null;
  duration: number | null;
  attempts: number;
  errorCode: string | null;
  message: string | null;
}

export interface LogEntry {
  id: string;
  type: string;
  logTime: number;
  message: string;
  messageId: string | null;
  jobsessionTaskId: string | null;
}

export interface AppServer {
  links: Links;
  id: string;
  name: string;
  hostAddress: string;
  portNumber: number | null;
  applicationType: string;
  osType: string;
  useKeyAuthentication: boolean;
}

export interface Finding {
  code: string;
  message: string;
}

export interface Instance {
  links: Links;
  id: string;
  name: string;
  host: string;
  port: number | null;
  version: string | null;
  applicationType: string;
  appserverId: string;
  firstSeen: number;
  lastSeen: number;
  missing: boolean;
  findings?: Finding[];
  properties?: Record<string, unknown>;
}

export interface Database {
  id: string;
  name: string;
  size: number | null;
  sizeBytes: number | null;
  owner: string | null;
  encoding: string | null;
  firstSeen: number;
  lastSeen: number;
  missing: boolean;
  findings?: Finding[];
  properties?: Record<string, unknown>;
}

export interface Change {
  id: string;
  jobsessionId: string;
  appserverId: string;
  objectType: string;
  objectName: string;
  parentName: string | null;
  change: string;
  field: string | null;
  oldValue: string | null;
  newValue: string | null;
  recordedAt: number;
}

export interface ConnectionCheck {
  name: string;
  description?: string;
  status: string;
  message?: string;
}

export interface ConnectionTest {
  statusHref?: string;
  testsComplete: boolean;
  configGroups: { name: string; description?: string; tests: ConnectionCheck[] }[];
}

export const INVENTORY_SERVICE_ID = 'serviceprovider.catalog.application';

/** What Census can inventory (GET /api/census/collector, a Census addition). */
export type ProtectionGroup = 'databases' | 'file-systems' | 'containers' | 'cloud-management' | 'hypervisors';

export interface Collector {
  links: Links;
  id: string;
  type: string;
  displayName: string;
  serverNoun: string;
  group: ProtectionGroup;
  defaultPort: number | null;
  childTypes: string[];
  identityKinds: ('password' | 'key')[];
  tls: boolean;
  checks: { name: string; description: string }[];
}
