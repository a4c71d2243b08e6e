/** The jobs every Census has from its first start, with SPP's ids and names (spec §4.7). */
import type { Job } from '../core/types.ts';

export const MAINTENANCE_JOB_ID = 1001;
export const INVENTORY_JOB_ID = 1004;
export const HYPERVISOR_INVENTORY_JOB_ID = 1005;
/** Census's own: delivers notifications (e-mail, webhooks), one task per delivery (docs/notifications.md). */
export const DELIVERY_JOB_ID = 1006;

export const APPLICATION_INVENTORY_SERVICE = 'serviceprovider.catalog.application';
export const HYPERVISOR_INVENTORY_SERVICE = 'serviceprovider.catalog.hypervisor';
export const MAINTENANCE_SERVICE = 'serviceprovider.maintenance';
export const DELIVERY_SERVICE = 'census.notification.delivery';

export const DEFAULT_RETENTION_DAYS = 30;

const base = { description: null, held: false, runningSessionId: null, lastSessionId: null, nextFireTime: null };

export const SYSTEM_JOBS: Job[] = [
  {
    ...base,
    id: MAINTENANCE_JOB_ID,
    name: 'Maintenance',
    policyId: MAINTENANCE_JOB_ID,
    policyName: 'Maintenance',
    type: 'maintenance',
    subType: 'maintenance',
    serviceId: MAINTENANCE_SERVICE,
    triggerId: MAINTENANCE_JOB_ID,
    schedule: { time: '01:00', timezone: 'UTC' },
    options: { retentionDays: DEFAULT_RETENTION_DAYS },
  },
  {
    ...base,
    id: INVENTORY_JOB_ID,
    name: 'Application Server Inventory',
    policyId: INVENTORY_JOB_ID,
    policyName: 'Application Server Inventory',
    type: 'catalog',
    subType: 'application',
    serviceId: APPLICATION_INVENTORY_SERVICE,
    triggerId: INVENTORY_JOB_ID,
    schedule: { time: '00:00', timezone: 'UTC' },
    options: {},
  },
  {
    // SPP's other inventory job: the same engine and job type as 1004, over hypervisors only.
    ...base,
    id: HYPERVISOR_INVENTORY_JOB_ID,
    name: 'Hypervisor Inventory',
    policyId: HYPERVISOR_INVENTORY_JOB_ID,
    policyName: 'Hypervisor Inventory',
    type: 'catalog',
    subType: 'hypervisor',
    serviceId: HYPERVISOR_INVENTORY_SERVICE,
    triggerId: HYPERVISOR_INVENTORY_JOB_ID,
    schedule: { time: '00:30', timezone: 'UTC' },
    options: {},
  },
  {
    // Census's own, with no schedule: the dispatcher starts it whenever a delivery is due
    // (engine/delivery/dispatcher.ts); a start while it runs adds the newly due deliveries.
    ...base,
    id: DELIVERY_JOB_ID,
    name: 'Notification Delivery',
    policyId: DELIVERY_JOB_ID,
    policyName: 'Notification Delivery',
    type: 'notification',
    subType: 'delivery',
    serviceId: DELIVERY_SERVICE,
    triggerId: null,
    schedule: null,
    options: {},
  },
];
