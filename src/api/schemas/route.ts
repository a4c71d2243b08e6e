/**
 * One route's schema: request validation (src/api/schemas/validate.ts), response serialization
 * (fast-json-stringify) and its entry in the OpenAPI document (src/api/openapi.ts), from one object.
 *
 * - Query strings admit any other parameter (SPP clients send `pageSize` on POSTs, `screenInfo`,
 *   `from`, `embed`, …), and declare their parameters as strings: `filter`, `sort`, `pageSize` and
 *   `pageStartIndex` are parsed by src/core/query.ts, which answers malformed ones with its own
 *   SPP-shaped 400s. A repeated parameter (an array) is accepted too; the last one counts.
 * - Request bodies are validated by their schema: a wrong type is a 400 naming the field; the loose
 *   types SPP clients send are declared (`IntegerLike`, `BooleanLike`) and decoded after validation;
 *   other properties are allowed; no body is `{}`.
 * - Response serialization keeps only the properties a schema lists: the wire functions are typed
 *   by the records (`XWire`), so they cannot write a property the schema does not list; maps with
 *   open-ended keys (links, properties, statistics, findings, policySnapshot.spec) admit more.
 * - Error answers all have SPP's `{id, description}` shape (wrapped under /ngp): a route serializes
 *   them with one `default` schema, and the document lists them status by status.
 */
import type { TSchema } from '@sinclair/typebox';
import type { FastifyInstance, FastifySchema } from 'fastify';
import type { Permission } from '../../core/permissions.ts';
import { ErrorBody, Link, Links, NgpError, ref } from './common.ts';
import { AppServer, AppServerBulkResult, AppServerInventoryStarted, AppServerList, ConnectionCheck, ConnectionTest, NgpAppServerCreated, NgpAppServerUpdated } from './appservers.ts';
import { Collector, CollectorList } from './collectors.ts';
import { Hypervisor, HypervisorInventoryStarted, HypervisorList, NgpHypervisor, Vm, VmList, VmSearchResult } from './hypervisors.ts';
import { Identity, KeyIdentityList, UserIdentityList } from './identities.ts';
import { Change, ChangeList, Database, DatabaseList, FileSystemList, Finding, Instance, InstanceList } from './inventory.ts';
import { Job, JobList, JobStatus, Lastrun, Trigger, TriggerList } from './jobs.ts';
import { JobSession, JobSessionList, JobSessionStats, LogEntry, LogList, SessionStatistic, Task, TaskList } from './sessions.ts';
import { LoginResponse, LoginUser, NgpVersion, Ping } from './system.ts';
import { Permission as PermissionRecord, PermissionList, ResourcePool, ResourcePoolList, Role, RoleList, SessionUser, UserList } from './security.ts';
import { ApiKey, ApiKeyCreated, ApiKeyList } from './apikeys.ts';
import { AuditEntry, AuditList } from './audit.ts';
import { Alert, AlertList, AlertSettings } from './alerts.ts';
import { LdapMapping, LdapMappingList, LdapServer, LdapServerList, LdapTestResult } from './ldap.ts';
import { Site, SiteList, Vadp, VadpList } from './sites.ts';
import { Delivery, DeliveryAttempt, DeliveryDetail, DeliveryList, Webhook, WebhookCreated, WebhookList, WebhookTestResult } from './webhooks.ts';
import { Recipient, RecipientList, SmtpServer, SmtpServerList, SmtpTestResult } from './smtp.ts';
import { HostFileSystem, HostFileSystemList, HostMetrics, SlaPolicyList, StorageList, StorageProfileList } from './sysinfo.ts';

type Schema = Record<string, unknown>;

/** The shared records, registered once by their `$id` (components.schemas in the document). */
const COMPONENTS = {
  Error: ErrorBody, NgpError, Link, Links,
  Lastrun, Job, JobList, JobStatus, Trigger, TriggerList,
  SessionStatistic, JobSession, JobSessionList, JobSessionStats, Task, TaskList,
  Change, ChangeList, LogEntry, LogList,
  Identity, UserIdentityList, KeyIdentityList,
  AppServer, AppServerList, AppServerBulkResult, NgpAppServerCreated, NgpAppServerUpdated, AppServerInventoryStarted, ConnectionCheck, ConnectionTest,
  Finding, Instance, InstanceList, Database, DatabaseList, FileSystemList,
  Hypervisor, HypervisorList, NgpHypervisor, HypervisorInventoryStarted, Vm, VmList, VmSearchResult,
  Collector, CollectorList,
  LoginUser, LoginResponse, Ping, NgpVersion,
  UserList, Role, RoleList, ResourcePool, ResourcePoolList, Permission: PermissionRecord, PermissionList, SessionUser,
  ApiKey, ApiKeyCreated, ApiKeyList,
  AuditEntry, AuditList,
  Alert, AlertList, AlertSettings,
  LdapServer, LdapServerList, LdapMapping, LdapMappingList, LdapTestResult,
  Site, SiteList, Vadp, VadpList,
  Webhook, WebhookCreated, WebhookList, WebhookTestResult, Delivery, DeliveryAttempt, DeliveryDetail, DeliveryList,
  SmtpServer, SmtpServerList, SmtpTestResult, Recipient, RecipientList,
  HostMetrics, HostFileSystem, HostFileSystemList, StorageList, SlaPolicyList, StorageProfileList,
} satisfies Record<string, TSchema>;

export type ComponentId = keyof typeof COMPONENTS;

/** Registers the shared schemas on the instance (before routes refer to them). */
export function addSharedSchemas(app: FastifyInstance): void {
  for (const [id, schema] of Object.entries(COMPONENTS)) {
    if (schema.$id !== id) throw new Error(`schema ${id} has $id ${String(schema.$id)}`);
    app.addSchema({ ...schema, $id: id });
  }
}

const refTo = (id: ComponentId, description?: string): Schema => ref(COMPONENTS[id], description);

// ---- request bodies ------------------------------------------------------------------------

interface BodyDoc {
  required: boolean;
  /** Other content types the document lists beside JSON (e.g. text/csv), with their schemas. */
  otherTypes?: Record<string, TSchema>;
}
const bodyDocs = new WeakMap<object, BodyDoc>();

/**
 * A request body: the schema validates it (src/api/schemas/validate.ts) and documents it.
 * `required: false` (the default) because most SPP clients POST actions with no body at all.
 */
export function requestBody<T extends TSchema>(schema: T, opts: { required?: boolean; otherTypes?: Record<string, TSchema> } = {}): T {
  const body = { ...schema };
  bodyDocs.set(body, { required: opts.required ?? false, ...(opts.otherTypes ? { otherTypes: opts.otherTypes } : {}) });
  return body;
}

/** How the document shows a route's body: whether it may be left out, and other content types. */
export const bodyDoc = (body: unknown): BodyDoc | undefined => (body && typeof body === 'object' ? bodyDocs.get(body) : undefined);

// ---- responses ------------------------------------------------------------------------------

export type Access = 'session' | 'public' | 'basic';

const ERROR_TEXT: Record<number, string> = {
  400: 'Malformed input: filter, sort, paging, ids, parameters or body (`XSBInvalidArgumentException`), or an operation that is not allowed.',
  403: 'The user\'s roles do not give the permission this needs (`XSBAccessDeniedException`).',
  401: 'No session header (`XSBMissingSessionidException`), an unknown or expired session (`XSBSessionDoesNotExistException`), or bad credentials (`XSBAuthenticationException`).',
  404: 'No such object (`XSBObjectNotFoundException`).',
  409: 'Conflicts with what exists (`XSBConflictException`).',
  413: 'The body is larger than 1 MiB (`XSBRequestTooLargeException`).',
  429: 'Too many failed logins from this address (`XSBTooManyLoginAttemptsException`); see `Retry-After`.',
  500: 'Unexpected error (`XSBInternalException`); the server log has the details.',
};

/**
 * What a caller needs to call a route (besides a login session): a permission, one per
 * `?action=` value where the action decides it, or `'session'` when any logged-in user may (the
 * service then decides, e.g. changing one's own password). Public routes need none.
 */
export type RoutePermission = Permission | 'session' | { action: Record<string, Permission | 'session'> };

export interface RouteDoc {
  tag: Tag;
  /** Required unless the route is public: src/api/access.ts refuses to add a route that needs a session but names no permission. */
  permission?: RoutePermission;
  summary: string;
  description?: string;
  params?: TSchema;
  querystring?: TSchema;
  /** A body schema from `requestBody`. */
  body?: TSchema;
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
  const errorRef = d.ngp ? refTo('NgpError') : refTo('Error');
  const response: Record<string, Schema> = {};
  for (const [status, body] of Object.entries(d.ok)) {
    const schema = typeof body === 'string' ? { description: COMPONENTS[body].description, ...refTo(body) } : body;
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
    ...(d.permission ? { 'x-permission': d.permission } : {}),
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
export const answer = (id: ComponentId, description: string): Schema => refTo(id, description);

/** One of several components, told apart by their required properties. */
export const oneOfAnswers = (ids: ComponentId[], description: string): Schema => ({ description, anyOf: ids.map((id) => refTo(id)) });

// ---- tags ------------------------------------------------------------------------------------

export const TAGS = {
  login: 'Login',
  jobs: 'Jobs',
  sessions: 'Job sessions',
  logs: 'Logs',
  identities: 'Identities',
  appservers: 'Application servers',
  hypervisors: 'Hypervisors',
  inventory: 'Inventory',
  system: 'System',
  events: 'Events',
  metrics: 'Metrics',
  collectors: 'Collectors',
  security: 'Security',
  sites: 'Sites',
  webhooks: 'Webhooks',
  mail: 'E-mail',
  alerts: 'Alerts',
} as const;
export type Tag = (typeof TAGS)[keyof typeof TAGS];

export const TAG_DESCRIPTIONS: { name: Tag; description: string }[] = [
  { name: 'Login', description: 'Login sessions: Basic-auth login, `X-Endeavour-Sessionid` on every other call, a sliding 45-minute idle timeout.' },
  { name: 'Jobs', description: 'Jobs 1001 Maintenance, 1004 Application Server Inventory and 1005 Hypervisor Inventory: status, start, cancel, schedule.' },
  { name: 'Job sessions', description: 'Runs of jobs, their tasks, counts and the inventory changes they recorded.' },
  { name: 'Logs', description: 'Job log entries.' },
  { name: 'Identities', description: 'Stored credentials: user name and password, or SSH key. Secrets go in and never come out.' },
  { name: 'Application servers', description: 'Registration (one, bulk JSON or CSV, /ngp), per-server inventory and connection tests.' },
  { name: 'Hypervisors', description: 'Hypervisors (kvm over SSH): registration, connection tests, the Hypervisor Inventory (job 1005) and the catalog of their virtual machines.' },
  { name: 'Inventory', description: 'What inventories found: instances, databases and file systems, and their change history.' },
  { name: 'System', description: "Version probes that need no session; the Census host's CPU, memory and file systems; SPP's storage and SLA collections (empty in Census)." },
  { name: 'Events', description: 'Live Server-Sent Events of job, session, task and log changes, resumable with Last-Event-ID.' },
  { name: 'Metrics', description: 'Prometheus metrics, with a login session or the metrics token.' },
  { name: 'Alerts', description: 'Alerts Census raises itself (failed and stalled sessions, failing servers, watched inventory changes, …), SPP\'s /api/endeavour/alert/message, acknowledged by people and cleared by Census when the condition goes away; their settings.' },
  { name: 'E-mail', description: 'The SMTP server Census mails through (SPP\'s /api/smtp; the password never comes back) and the mail recipients: who is mailed which alerts and which jobs\' ended sessions (docs/email.md).' },
  { name: 'Webhooks', description: 'Webhook endpoints (signed JSON, Slack or Teams bodies) and the delivery log of notifications, with each attempt and the receiver\'s answer (docs/notifications.md).' },
  { name: 'Sites', description: 'Sites (places servers and workers belong to) and the workers that run tasks, as SPP lists its VADP proxies (/api/vadp).' },
  { name: 'Security', description: 'Users, roles, resource groups and the permissions roles hold (SPP\'s /api/security).' },
  { name: 'Collectors', description: 'What Census can inventory: each application type with its group, default port, logins and connection checks (a Census addition).' },
];
