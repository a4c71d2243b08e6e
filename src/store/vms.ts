/**
 * The virtual machines hypervisor inventories found, read across hypervisors: the VM catalog
 * (GET /api/endeavour/catalog/hypervisor/vm, POST /api/hypervisor/search). A VM is a child
 * object of its hypervisor's instance (the inventory store records it like a database), so the
 * catalog is a join of the three tables, restricted to hypervisor types and to what the last
 * run still found.
 */
import type { ListQuery, ListResult } from '../core/query.ts';
import { inScope, json, listPage, type Db, type ServerScope } from './rows.ts';

export interface VmRecord {
  id: number;
  name: string;
  /** Allocated disk total, as the collector reported it. */
  sizeBytes: number | null;
  properties: Record<string, unknown>;
  firstSeen: number;
  /** When an inventory last found it (SPP's catalogTime). */
  lastSeen: number;
  hypervisorId: number;
  /** The hypervisor's registered name. */
  host: string;
  hypervisorType: string;
  instanceId: number;
  /** The hypervisor's site (SPP's datacenter in the VM catalog). */
  siteName: string | null;
}

interface VmRow extends Omit<VmRecord, 'properties'> {
  properties: string;
}

const toVm = (r: VmRow): VmRecord => ({ ...r, sizeBytes: r.sizeBytes === null ? null : Number(r.sizeBytes), properties: json<Record<string, unknown>>(r.properties, {}) });

export class VmRepository {
  constructor(private db: Db) {}

  /**
   * VMs present now on hypervisors of `types` the reader may see (columns: those of VmRecord).
   * A present VM was last seen when its hypervisor's instance was (store/inventory.ts, databaseRows).
   */
  list(q: ListQuery, types: readonly string[], scope: ServerScope = 'all'): Promise<ListResult<VmRecord>> {
    if (!types.length) return Promise.resolve({ total: 0, items: [] });
    const vms = this.db
      .selectFrom('databases')
      .innerJoin('instances', 'instances.id', 'databases.instanceId')
      .innerJoin('appservers', 'appservers.id', 'instances.appserverId')
      .leftJoin('sites', 'sites.id', 'appservers.siteId')
      .where('databases.missing', '=', 0)
      .where('instances.missing', '=', 0)
      .where('appservers.applicationType', 'in', [...types])
      .select([
        'databases.id as id', 'databases.name as name', 'databases.sizeBytes as sizeBytes', 'databases.properties as properties',
        'databases.firstSeen as firstSeen', 'instances.lastSeen as lastSeen', 'appservers.id as hypervisorId', 'appservers.name as host',
        'appservers.applicationType as hypervisorType', 'instances.id as instanceId', 'sites.name as siteName',
      ]);
    const base = inScope(this.db.selectFrom(vms.as('vm')), 'vm.hypervisorId', scope);
    return listPage(base, q, 'vm.id', toVm);
  }

  /** The version the last inventory of each server read (null when none has, or it says none). */
  async versions(appserverIds: readonly number[]): Promise<Map<number, string | null>> {
    if (!appserverIds.length) return new Map();
    const rows = await this.db.selectFrom('instances').select(['appserverId', 'version'])
      .where('appserverId', 'in', [...appserverIds]).where('missing', '=', 0).orderBy('id').execute();
    return new Map(rows.map((r) => [r.appserverId, r.version]));
  }
}
