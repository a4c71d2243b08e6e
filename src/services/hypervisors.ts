/**
 * Hypervisors (issue 12, spec §11.4): registered, changed, tested and unregistered like
 * application servers — the same rows and the same rules (src/services/appservers.ts), seen
 * through the hypervisor.* permissions and started into the Hypervisor Inventory (job 1005) —
 * and the catalog of the virtual machines their inventories found.
 */
import type { Actor } from '../core/actor.ts';
import { hypervisorCollectorTypes, hypervisorTypes, KNOWN_HYPERVISOR_TYPES } from '../core/hypervisors.ts';
import type { ListQuery, ListResult } from '../core/query.ts';
import { HYPERVISOR_INVENTORY_JOB_ID } from '../engine/system-jobs.ts';
import type { VmRecord } from '../store/vms.ts';
import { appServerService, type ServerKind } from './appservers.ts';
import { fieldsOf, type AuditSpecs } from './audit.ts';
import type { ServiceContext } from './context.ts';
import type { JobService } from './jobs.ts';

export const HYPERVISORS: ServerKind = {
  group: 'hypervisors', noun: 'Hypervisor', jobId: HYPERVISOR_INVENTORY_JOB_ID,
  permissions: { view: 'hypervisor.view', register: 'hypervisor.register', edit: 'hypervisor.edit', deregister: 'hypervisor.deregister' },
};

export function hypervisorService(ctx: ServiceContext, jobs: JobService) {
  const servers = appServerService(ctx, jobs, HYPERVISORS);
  const { register, update, unregister, get, list, inventory, test, testResult } = servers;
  const { store } = ctx;
  return {
    register, update, unregister, get, list, inventory, test, testResult,

    /** The types Census can register now, and SPP's others, which it refuses as not supported yet. */
    types(): { supported: string[]; notYet: string[] } {
      const supported = hypervisorCollectorTypes(ctx.collectors);
      return { supported, notYet: KNOWN_HYPERVISOR_TYPES.filter((t) => !supported.includes(t)) };
    },

    /** What the last inventory of each hypervisor read as its version (absent: none has run). */
    versions(_actor: Actor, ids: readonly number[]): Promise<Map<number, string | null>> {
      return store.vms.versions(ids);
    },

    /** The VMs the last inventories found, on the hypervisors the caller may see. */
    vms(actor: Actor, q: ListQuery): Promise<ListResult<VmRecord>> {
      return store.vms.list(q, hypervisorTypes(ctx.collectors), actor.access.scope('hypervisor.view'));
    },
  };
}

export type HypervisorService = ReturnType<typeof hypervisorService>;

/** How hypervisor changes are recorded in the audit log (as application servers', under their own actions). */
export function hypervisorAuditSpecs(ctx: Pick<ServiceContext, 'store'>): AuditSpecs<HypervisorService> {
  const name = async ([id]: [number, ...unknown[]]) => (await ctx.store.appservers.get(id))?.name;
  return {
    register: {
      action: 'hypervisor.register', targetType: 'hypervisor',
      target: ([input], r) => ({ id: r?.id ?? null, name: r?.name ?? input.name ?? input.hostAddress }),
      detail: ([input]) => ({ hostAddress: input.hostAddress, type: input.applicationType }),
    },
    update: { action: 'hypervisor.update', targetType: 'hypervisor', nameBefore: name, detail: ([, changes]) => ({ fields: fieldsOf(changes) }) },
    unregister: { action: 'hypervisor.unregister', targetType: 'hypervisor', nameBefore: name },
    inventory: { action: 'hypervisor.inventory', targetType: 'hypervisor', nameBefore: name },
  };
}

