/**
 * What the vmware collector reads from a vCenter (or an ESXi host, which has the same API) and
 * how it becomes the collector's result: one instance for the server, one "database" of type
 * `vm` per virtual machine, in the shape the kvm collector gives (docs/vmware.md has the table).
 *
 * Per datacenter, one container view of its hosts and VMs and one paged property retrieval:
 * the round trips grow with the number of datacenters and pages, not of VMs.
 */

import type { CollectedDatabase } from '../types.ts';
import type { SoapClient } from './soap.ts';
import { containerView, Props, retrieveFromView, type ServiceContent } from './vim.ts';

const MIB = 1024 * 1024;

const VM_PATHS = [
  'name',
  'config.uuid',
  'config.version',
  'config.guestId',
  'config.guestFullName',
  'config.template',
  'config.hardware.numCPU',
  'config.hardware.numCoresPerSocket',
  'config.hardware.memoryMB',
  'runtime.powerState',
  'runtime.host',
  'summary.storage.committed',
  'summary.storage.uncommitted',
  'summary.storage.unshared',
  'summary.quickStats.uptimeSeconds',
] as const;

const HOST_PATHS = ['name', 'runtime.connectionState', 'runtime.powerState'] as const;

export interface HostFacts {
  name: string;
  datacenter: string;
  connectionState: string | null;
  powerState: string | null;
}

export interface DatacenterFacts {
  name: string;
  hosts: number;
  vms: number;
}

export interface Inventory {
  datacenters: DatacenterFacts[];
  hosts: HostFacts[];
  vms: CollectedDatabase[];
  warnings: string[];
}

export async function readInventory(soap: SoapClient, sc: ServiceContent): Promise<Inventory> {
  const warnings: string[] = [];
  const dcView = await containerView(soap, sc, sc.rootFolder, ['Datacenter']);
  const datacenters = (await retrieveFromView(soap, sc, dcView, { Datacenter: ['name'] }))
    .map((o) => ({ ref: o.ref, name: new Props(o).string('name') ?? o.ref.value }))
    .sort((a, b) => a.name.localeCompare(b.name));

  const dcFacts: DatacenterFacts[] = [];
  const hosts: HostFacts[] = [];
  const vms: CollectedDatabase[] = [];
  const taken = new Set<string>();
  for (const dc of datacenters) {
    const view = await containerView(soap, sc, dc.ref, ['HostSystem', 'VirtualMachine']);
    const objects = await retrieveFromView(soap, sc, view, { HostSystem: HOST_PATHS, VirtualMachine: VM_PATHS });
    const hostNames = new Map<string, string>();
    let hostCount = 0;
    let vmCount = 0;
    for (const o of objects) {
      if (o.ref.type !== 'HostSystem') continue;
      const p = new Props(o);
      const name = p.string('name') ?? o.ref.value;
      hostNames.set(o.ref.value, name);
      hosts.push({ name, datacenter: dc.name, connectionState: p.string('runtime.connectionState'), powerState: p.string('runtime.powerState') });
      hostCount++;
    }
    for (const o of objects) {
      if (o.ref.type !== 'VirtualMachine') continue;
      const p = new Props(o);
      // A template is a VM's image, not a VM: it never runs, SPP lists it apart.
      if (p.string('config.template') === 'true') continue;
      const vm = toVm(p, o.ref.value, dc.name, hostNames);
      // VM names are unique within a folder only; the inventory needs them unique per server.
      if (taken.has(vm.name)) {
        const unique = `${vm.name} [${o.ref.value}]`;
        warnings.push(`two VMs are named "${vm.name}"; the one with id ${o.ref.value} in datacenter "${dc.name}" is listed as "${unique}"`);
        vm.name = unique;
      }
      taken.add(vm.name);
      vms.push(vm);
      vmCount++;
    }
    dcFacts.push({ name: dc.name, hosts: hostCount, vms: vmCount });
  }
  vms.sort((a, b) => a.name.localeCompare(b.name));
  return { datacenters: dcFacts, hosts, vms, warnings };
}

function toVm(p: Props, id: string, datacenter: string, hostNames: ReadonlyMap<string, string>): CollectedDatabase {
  const host = p.moRef('runtime.host');
  const memoryMB = p.integer('config.hardware.memoryMB');
  const committed = p.integer('summary.storage.committed');
  const unshared = p.integer('summary.storage.unshared');
  return {
    name: p.string('name') ?? id,
    sizeBytes: committed,
    owner: null,
    encoding: null,
    properties: {
      id,
      uuid: p.string('config.uuid'),
      state: p.string('runtime.powerState'),
      vcpus: p.integer('config.hardware.numCPU'),
      coresPerSocket: p.integer('config.hardware.numCoresPerSocket'),
      memoryBytes: memoryMB === null ? null : memoryMB * MIB,
      osType: p.string('config.guestId'),
      guestFullName: p.string('config.guestFullName'),
      vmVersion: p.string('config.version'),
      host: host ? hostNames.get(host.value) ?? host.value : null,
      datacenter,
      uptimeSeconds: p.integer('summary.quickStats.uptimeSeconds'),
      committedBytes: committed,
      uncommittedBytes: p.integer('summary.storage.uncommitted'),
      unsharedBytes: unshared,
      // vSphere tells what is not shared; what is, is the rest of what the VM takes.
      sharedBytes: committed !== null && unshared !== null ? Math.max(0, committed - unshared) : null,
    },
  };
}
