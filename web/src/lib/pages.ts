/** The addresses of the UI's pages (history routing; the server answers each with index.html). */
import type { ProtectionGroup } from '../api/types';

export const PAGES = {
  manageProtection: '/manage-protection',
  jobs: '/jobs',
  users: '/system/users',
  roles: '/system/roles',
  resourceGroups: '/system/resource-groups',
  apiKeys: '/system/api-keys',
  ldap: '/system/ldap',
  audit: '/system/audit-log',
  alerts: '/alerts',
  smtp: '/system/smtp',
  recipients: '/system/recipients',
  webhooks: '/system/webhooks',
  deliveries: '/system/deliveries',
  alertSettings: '/system/alert-settings',
} as const;

/** A Manage Protection group's page: what Census cannot inventory yet, or the way to its first type. */
export const groupPath = (group: ProtectionGroup): string => `${PAGES.manageProtection}/${group}`;

/** The page of one application type, under its group. */
export const collectorPath = (group: ProtectionGroup, type: string): string => `${groupPath(group)}/${encodeURIComponent(type)}`;
