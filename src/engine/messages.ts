/**
 * Log messages: each has a stable id (messageId) and positional parameters (messageParams), the
 * way SPP's log records carry them, and the text is rendered from the two. Census's ids use
 * their own prefix "CNS" so nobody mistakes them for SPP's (docs/compat.md lists them).
 */
import type { LogType } from '../core/status.ts';

export interface Message {
  type: LogType;
  messageId: string;
  messageParams: string[];
  message: string;
}

/**
 * Session-level entries (of no task) that name the session's servers. A user limited to resource
 * groups does not get them: they would tell of servers outside the groups (the task-level entries
 * of the user's own servers say the same for those).
 */
export const NAMES_SERVERS: readonly string[] = ['CNSJ0002', 'CNSJ0006', 'CNSJ0011', 'CNSJ0014', 'CNSJ0016', 'CNSJ0020', 'CNSJ0021'];

const TEMPLATES = {
  CNSJ0001: 'Job {0} (id {1}) started as session {2} by {3}.',
  CNSJ0002: 'Application server inventory will cover {0} application server(s): {1}.',
  CNSJ0003: 'No application servers are registered; nothing to inventory.',
  CNSJ0004: 'Cancel requested by {0}.',
  CNSJ0005: 'Session resumed at start-up: the Census process that ran it stopped while it was {0}; its {1} unfinished task(s) run again.',
  CNSJ0007: 'Task {0} was running on {1}, which stopped renewing its claim (last renewed {2}); the task runs again.',
  CNSJ0008: 'Task {0} was running on {1}, which stopped renewing its claim (last renewed {2}); the session was cancelled, so it ends here.',
  CNSJ0009: 'Task {0} was running on {1}, which has stopped (its database connection closed); the task runs again.',
  CNSJ0012: 'Task {0} was running on {1}, which has stopped (its database connection closed); the session was cancelled, so it ends here.',
  CNSJ0013: 'Task {0} was handed back unfinished by {1}, which is shutting down; the task runs again.',
  CNSJ0006: 'Application server {0} was added to this running inventory ({1}).',
  CNSJ0010: 'Job {0} ended {1}: {2} of {3} task(s) completed, {4} failed, {5} cancelled, in {6} s.',
  CNSI0100: 'Inventory of application server {0} ({1}, {2}) started, attempt {3}.',
  CNSI0101: 'Inventory of application server {0} complete: {1} instance(s), {2} database(s); version {3}.',
  CNSI0102: 'Inventory of application server {0} failed: {1}',
  CNSI0103: 'Inventory of application server {0} failed but can be retried ({1}); trying again in {2} ms.',
  CNSI0104: 'Inventory of application server {0}: {1}',
  CNSI0105: 'Inventory of application server {0} was cancelled.',
  CNSI0106: 'Application server {0} no longer exists; its task is skipped.',
  CNSI0107: 'Readiness of application server {0}: {1} ({2})',
  CNSI0108: 'Application server {0}: {1}.',
  CNSJ0011: 'Changes found by this inventory: {0}.',
  CNSJ0020: 'No live worker in site {0}: the tasks of its server(s) {1} wait until a worker of that site runs (census worker --site {0}), or until an administrator lets any worker take them (PUT /api/site/{2} with "allowAnyWorker": true).',
  CNSJ0021: 'No live worker in site {0}; the site lets any worker take its tasks, so any worker runs those of server(s) {1}.',
  CNSJ0014: 'Hypervisor inventory will cover {0} hypervisor(s): {1}.',
  CNSJ0015: 'No hypervisors are registered; nothing to inventory.',
  CNSJ0016: 'Hypervisor {0} was added to this running inventory ({1}).',
  CNSI0110: 'Inventory of hypervisor {0} ({1}, {2}) started, attempt {3}.',
  CNSI0111: 'Inventory of hypervisor {0} complete: {1} host(s), {2} virtual machine(s); version {3}.',
  CNSI0112: 'Inventory of hypervisor {0} failed: {1}',
  CNSI0113: 'Inventory of hypervisor {0} failed but can be retried ({1}); trying again in {2} ms.',
  CNSI0114: 'Inventory of hypervisor {0}: {1}',
  CNSI0115: 'Inventory of hypervisor {0} was cancelled.',
  CNSI0116: 'Hypervisor {0} no longer exists; its task is skipped.',
  CNSI0117: 'Readiness of hypervisor {0}: {1} ({2})',
  CNSI0118: 'Hypervisor {0}: {1}.',
  CNSM0200: 'Maintenance: removed {0} job session(s) and {1} log entries older than {2} days; removed {3} idle login session(s).',
  CNSM0201: 'Maintenance: removed {0} event(s) older than {1} day(s) from the event stream.',
  CNSM0202: 'Maintenance: removed {0} audit log entries older than {1} day(s).',
  CNSM0203: 'Maintenance: removed {0} cleared alert(s) and {1} sent notification(s) with their deliveries older than {2} days.',
} as const;

export type MessageId = keyof typeof TEMPLATES;

export function message(type: LogType, id: MessageId, ...params: (string | number | null | undefined)[]): Message {
  const messageParams = params.map((p) => (p === null || p === undefined ? '' : String(p)));
  const text = TEMPLATES[id].replace(/\{(\d+)\}/g, (_, i: string) => messageParams[Number(i)] ?? '');
  return { type, messageId: id, messageParams, message: text };
}
