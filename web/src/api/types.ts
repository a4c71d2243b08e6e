/**
 * The parts of Census's (SPP's) JSON the UI reads. The wire records are the server's own schema
 * types (src/api/schemas/, one TypeBox schema per record: it validates, serializes and documents
 * them), imported as types only, never copied. See docs/compat.md for every field.
 */
import type { ApiKeyCreatedWire, ApiKeyWire } from '../../../src/api/schemas/apikeys.ts';
import type { AppServerWire, ConnectionCheckWire, ConnectionTestWire } from '../../../src/api/schemas/appservers.ts';
import type { CollectorWire } from '../../../src/api/schemas/collectors.ts';
import type { HypervisorWire, VmWire } from '../../../src/api/schemas/hypervisors.ts';
import type { IdentityWire } from '../../../src/api/schemas/identities.ts';
import type { SiteWire } from '../../../src/api/schemas/sites.ts';
import type { LinksWire, LinkWire } from '../../../src/api/schemas/common.ts';
import type { AuditEntryWire } from '../../../src/api/schemas/audit.ts';
import type { ChangeWire, DatabaseWire, FindingWire, InstanceWire } from '../../../src/api/schemas/inventory.ts';
import type { JobWire, LastrunWire } from '../../../src/api/schemas/jobs.ts';
import type { LdapMappingWire, LdapServerWire, LdapTestResultWire } from '../../../src/api/schemas/ldap.ts';
import type { JobSessionWire, LogEntryWire, SessionStatisticWire, TaskWire } from '../../../src/api/schemas/sessions.ts';
import type { PermissionWire, ResourcePoolWire, RoleWire, SessionUserWire } from '../../../src/api/schemas/security.ts';
import type { LoginUserWire } from '../../../src/api/schemas/system.ts';
import type { Permission as PermissionKey } from '../../../src/core/permissions.ts';
import type { AlertKind, AlertStatus, AlertSeverity } from '../../../src/core/alerts.ts';
import type { AlertSettingsWire, AlertWire } from '../../../src/api/schemas/alerts.ts';
import type { RecipientWire, SmtpServerWire, SmtpTestResultWire } from '../../../src/api/schemas/smtp.ts';
import type { DeliveryDetailWire, DeliveryWire, WebhookCreatedWire, WebhookTestResultWire, WebhookWire } from '../../../src/api/schemas/webhooks.ts';
import type { NotificationType, WEBHOOK_EVENTS } from '../../../src/core/notifications.ts';

export type Link = LinkWire;
export type Links = LinksWire;
export type LastRun = LastrunWire;
export type Job = JobWire;
export type SessionStatistic = SessionStatisticWire;
export type JobSession = JobSessionWire;
export type Task = TaskWire;
export type LogEntry = LogEntryWire;
export type AppServer = AppServerWire;
export type Finding = FindingWire;
export type Instance = InstanceWire;
export type Database = DatabaseWire;
export type Change = ChangeWire;
export type ConnectionCheck = ConnectionCheckWire;
export type ConnectionTest = ConnectionTestWire;
/** What Census can inventory (GET /api/census/collector, a Census addition). */
export type Collector = CollectorWire;
export type ProtectionGroup = Collector['group'];
/** Hypervisors (/api/hypervisor), their VMs (the VM catalog), the sites they belong to and stored logins (identities, never their secrets). */
export type Hypervisor = HypervisorWire;
export type Vm = VmWire;
export type Site = SiteWire;
export type Identity = IdentityWire;
/** Users, roles, resource groups (/api/security/*) and the session's own user with what they may do. */
export type User = LoginUserWire;
export type Role = RoleWire;
export type ResourcePool = ResourcePoolWire;
export type PermissionInfo = PermissionWire;
export type SessionUser = SessionUserWire;
/** API keys (/api/security/apikey): listed without the key; the answer that made one holds it. */
export type ApiKey = ApiKeyWire;
export type ApiKeyCreated = ApiKeyCreatedWire;
/** One audit log entry (/api/endeavour/log/audit). */
export type AuditEntry = AuditEntryWire;
/** Directory servers (/api/ldap), their group mappings and connection test. */
export type LdapServer = LdapServerWire;
export type LdapMapping = LdapMappingWire;
export type LdapTestResult = LdapTestResultWire;
/** A permission key such as `policy.run`. */
export type PermissionId = PermissionKey;

/** The envelope every list shares; the records are under a key of their own. */
export interface Envelope {
  links: Links;
  total: number;
  page: number;
}

export const INVENTORY_SERVICE_ID = 'serviceprovider.catalog.application';
export const HYPERVISOR_INVENTORY_SERVICE_ID = 'serviceprovider.catalog.hypervisor';

/*
 * Notifications and alerts (issue 13). Written against the design of the API while its routes
 * were being built; they follow the wire (src/api/schemas/…) where it differs.
 */

export type { AlertKind, AlertStatus, AlertSeverity, NotificationType };
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];
export type AlertSettings = AlertSettingsWire;
/** One alert (GET /api/endeavour/alert/message): SPP's fields and Census's. */
export type Alert = AlertWire;

/** A webhook endpoint (/api/census/webhook); its secret only in the answer that made or rotated it. */
export type Webhook = WebhookWire;
export type WebhookCreated = WebhookCreatedWire;
export type WebhookFormat = Webhook['format'];

/** What a test send answered (a webhook's Test, the mail server's test message: the same fields). */
export type SendTest = WebhookTestResultWire | SmtpTestResultWire;

/** One notification to one receiver (/api/census/delivery); opened, with its attempts. */
export type Delivery = DeliveryWire;
export type DeliveryDetail = DeliveryDetailWire;
export type DeliveryAttempt = DeliveryDetail['attempts'][number];

/** The mail server (/api/smtp); the password is never sent back, only whether one is set. */
export type SmtpServer = SmtpServerWire;
export type SmtpSecurity = SmtpServer['security'];
export type SmtpTestResult = SmtpTestResultWire;
/** Who is mailed what (/api/census/recipient). */
export type Recipient = RecipientWire;
