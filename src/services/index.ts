/**
 * The service layer: one function per use case, each taking the caller (an Actor) first. Routes
 * parse, call one service and map the answer to the wire; the scheduler and registration-started
 * runs call them as system actors. Services raise DomainErrors (src/core/errors.ts) and never
 * speak HTTP.
 */
import { alertAuditSpecs, alertService } from './alerts.ts';
import { apiKeyService } from './apikeys.ts';
import { appServerService } from './appservers.ts';
import { auditService, auditSpecs, withAudit, withAuditedAuth } from './audit.ts';
import { authService, type AuthOptions } from './auth.ts';
import { directoryService } from './directories.ts';
import type { ServiceContext } from './context.ts';
import { eventService } from './events.ts';
import { identityService } from './identities.ts';
import { hypervisorAuditSpecs, hypervisorService } from './hypervisors.ts';
import { inventoryService } from './inventory.ts';
import { mailAuditSpecs, recipientService, smtpService } from './mail.ts';
import { jobService } from './jobs.ts';
import { metricsService } from './metrics.ts';
import { sessionService } from './sessions.ts';
import { resourcePoolService, roleService } from './roles.ts';
import { systemService } from './system.ts';
import { hostMetricsService, type HostOptions } from './host-metrics.ts';
import { userService } from './users.ts';
import { siteAuditSpecs, siteService } from './sites.ts';
import { workerService } from './workers.ts';
import { webhookAuditSpecs, webhookService } from './webhooks.ts';

/**
 * `auth`: the login policy (and, for tests, the password check and the session cache); `host`: the
 * data directory, whose file system /ngp/metrics reports.
 */
export function createServices(ctx: ServiceContext, options: { auth?: AuthOptions; host?: HostOptions } = {}) {
  // Every mutating use case is recorded in the audit log (src/services/audit.ts says how).
  const audit = auditService(ctx);
  const audited = auditSpecs(ctx);
  const jobs = withAudit(audit, jobService(ctx), audited.jobs);
  const auth = authService(ctx, options.auth);
  const mailAudited = mailAuditSpecs(ctx);
  return {
    auth: withAuditedAuth(audit, ctx, auth),
    audit,
    users: withAudit(audit, userService(ctx, auth), audited.users),
    directories: withAudit(audit, directoryService(ctx, auth), audited.directories),
    roles: withAudit(audit, roleService(ctx, auth), audited.roles),
    resourcePools: withAudit(audit, resourcePoolService(ctx, auth), audited.resourcePools),
    apiKeys: withAudit(audit, apiKeyService(ctx, auth), audited.apiKeys),
    appservers: withAudit(audit, appServerService(ctx, jobs), audited.appservers),
    hypervisors: withAudit(audit, hypervisorService(ctx, jobs), hypervisorAuditSpecs(ctx)),
    identities: withAudit(audit, identityService(ctx), audited.identities),
    inventory: inventoryService(ctx),
    jobs,
    sessions: withAudit(audit, sessionService(ctx), audited.sessions),
    events: eventService(ctx),
    metrics: metricsService(ctx),
    system: systemService(ctx),
    sites: withAudit(audit, siteService(ctx), siteAuditSpecs(ctx)),
    alerts: withAudit(audit, alertService(ctx), alertAuditSpecs(ctx)),
    workers: workerService(ctx),
    webhooks: withAudit(audit, webhookService(ctx), webhookAuditSpecs(ctx)),
    smtp: withAudit(audit, smtpService(ctx), mailAudited.smtp),
    recipients: withAudit(audit, recipientService(ctx), mailAudited.recipients),
    hostMetrics: hostMetricsService(ctx, options.host ?? { dataDir: null }),
  };
}

export type Services = ReturnType<typeof createServices>;
export type { ServiceContext } from './context.ts';
export type { AuthOptions, AuthService, Credentials, EndedSessions, LoginPolicy, Principal } from './auth.ts';
export type { AppServerInput, AppServerChanges } from './appservers.ts';
export type { HypervisorService } from './hypervisors.ts';
export type { VmRecord } from '../store/vms.ts';
export type { IdentityInput, IdentityKind } from './identities.ts';
export type { UserInput, UserChanges, UserView } from './users.ts';
export type { DirectoryInput, DirectoryChanges, DirectoryView, MappingInput } from './directories.ts';
export type { RoleInput, PoolInput } from './roles.ts';
export type { SiteInput, SiteChanges } from './sites.ts';
export { ALERT_SETTING_LIMITS, type Alert, type AlertService, type AlertSettings, type AlertSettingsChanges } from './alerts.ts';
export type { WorkerView } from './workers.ts';
export { WEBHOOK_FORMATS, type TestResult as WebhookTestResult, type WebhookChanges, type WebhookInput, type WebhookService, type WebhookView } from './webhooks.ts';
export type { RecipientChanges, RecipientInput, RecipientView, SmtpChanges, SmtpInput, SmtpView } from './mail.ts';
export { API_KEY_PREFIX, DEFAULT_KEY_DAYS, type ApiKey, type ApiKeyInput } from './apikeys.ts';
export type { JobView, TriggerInput, JobService } from './jobs.ts';
export type { SessionService } from './sessions.ts';
export type { HostFileSystem, HostMetrics, HostOptions } from './host-metrics.ts';
export { alreadyAudited, errorCode, type AuditService } from './audit.ts';
export type { AuditEntry } from '../store/audit.ts';
export { Scheduler } from './scheduler.ts';
export { EVENT_TYPES, type EventFilter, type EventType, type StoredEvent, type StreamStart, type EventService } from './events.ts';
export { DELIVERY_BUCKETS, SESSION_BUCKETS, TASK_BUCKETS, type HistogramRow, type StoreFigures } from './metrics.ts';
